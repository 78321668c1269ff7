"""`drift`: how the target's schema differs from what its applied migrations make.

Exit 0 no drift, 1 drift, 2 the command cannot run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.cli import EXIT_UNHEALTHY, Output, common_options, main, target_session
from service.prisma.database import parse_database_url
from service.prisma.errors import InvalidDatabaseUrl, MigrateError

if TYPE_CHECKING:
    from service.analysis.drift_check import DriftCheck


@main.command("drift")
@common_options
@click.option(
    "--shadow-url",
    envvar="SHADOW_DATABASE_URL",
    show_envvar=True,
    help="A database on a server that is not the target's; the applied history is replayed there (kept as a template database).",
)
@click.option(
    "--ignore",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Ignore objects whose name matches (fnmatch; `public.Patient.*`, `*_tmp_idx`, `extension:*`); repeatable.",
)
def drift_command(migrations_dir: Path, database_url: str | None, as_json: bool, shadow_url: str | None, patterns: Sequence[str]) -> None:
    """Compare the target's schema with the shadow's replay of its applied migrations; exit 0 with no drift, 1 with drift.

    Only applied migrations count: a pending one is not drift. The target is only read.
    """
    # Drift connects to databases; psycopg and the fingerprint are loaded only when this command runs.
    from service.analysis.drift_check import check_drift
    from service.analysis.drift_ignore import InvalidIgnorePattern, parse_ignore_rules
    from service.analysis.replay import ReplayCache
    from service.analysis.verify import ShadowIsTarget, same_database

    output = Output(as_json)
    try:
        rules = parse_ignore_rules(patterns)
        if not shadow_url:
            raise InvalidDatabaseUrl("No shadow database URL: pass --shadow-url or set SHADOW_DATABASE_URL.")
        shadow = parse_database_url(shadow_url)
    except InvalidIgnorePattern as error:
        output.error(None, f"--ignore {error}", 2)
    except MigrateError as error:
        output.error(error.code, error.message, 2, error.headline)
    with target_session(output, database_url, migrations_dir) as (conn, target, local):
        if same_database(shadow, target):
            raise ShadowIsTarget(shadow.display)
        replays = ReplayCache(shadow, target.schema, label=f"drift {target.display}")
        result = check_drift(conn, target.schema, local, replays, rules)
    output.document({"target": target.display, "shadow": shadow.display, **result.to_dict()})
    _print(output, result, target.display, shadow.display)
    sys.exit(EXIT_UNHEALTHY if result.drifted else 0)


def _print(output: Output, result: DriftCheck, target: str, shadow: str) -> None:
    applied = result.applied
    history = f"{len(applied)} applied migration{'' if len(applied) == 1 else 's'}" + (
        f" ({applied[0]} … {applied[-1]})" if len(applied) > 1 else f" ({applied[0]})" if applied else ""
    )
    output.line(f"Target: {target}")
    output.line(f"Shadow: {shadow}, replay {result.template} ({'built now' if result.replay_built else 'reused'})")
    output.line(f"Compared: {history}, schema{'' if len(result.drift.schemas) == 1 else 's'} {', '.join(result.drift.schemas)}")
    for note in result.notes:
        output.line(f"Note: {note}")
    output.line()
    output.lines(result.drift.lines)
    if result.drift.ignored:
        output.line(f"Ignored ({len(result.drift.ignored)}):")
        output.lines(f"  {item.text} (--ignore {item.ignored_by})" for item in result.drift.ignored)
    count = len(result.drift.items)
    if count:
        output.line(f"Drift: {count} difference{'' if count == 1 else 's'} between the target and its migrations ({result.seconds:.2f} s).")
    else:
        output.line(f"No drift: the target's schema is what its applied migrations make ({result.seconds:.2f} s).")
