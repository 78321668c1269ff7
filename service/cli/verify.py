"""`verify-rollback`: prove a migration's rollback SQL on a scratch database of a shadow server.

Exit 0 verified, 1 not verified (or no rollback SQL to verify), 2 the command cannot run.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.analysis.rollback import RollbackPlan, rollback_plan
from service.cli import EXIT_CANNOT_RUN, EXIT_UNHEALTHY, Output, common_options, first_line, main
from service.prisma.database import parse_database_url
from service.prisma.errors import InvalidDatabaseUrl, MigrateError
from service.prisma.migrations import LocalMigration, read_migrations_directory

if TYPE_CHECKING:
    from service.analysis.verify import RollbackVerification

_SOURCES = {
    "section": "the ROLLBACK SQL section of the migration file",
    "derived": "derived from the migration's effects",
}


@main.command("verify-rollback")
@click.argument("name")
@common_options
@click.option(
    "--shadow-url",
    envvar="SHADOW_DATABASE_URL",
    show_envvar=True,
    help="A database on a server that is not the target's; scratch databases are created there.",
)
@click.option(
    "--rollback-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Verify this SQL instead of the rollback found in or derived from the migration.",
)
def verify_rollback_command(
    name: str,
    migrations_dir: Path,
    database_url: str | None,
    as_json: bool,
    shadow_url: str | None,
    rollback_file: Path | None,
) -> None:
    """Replay the migrations before NAME on a scratch database, apply NAME and its rollback,
    and compare the schema with the one before; exit 0 when they match.

    --database-url names the target only so that a shadow equal to it is refused.
    """
    # Verification connects to databases; psycopg is loaded only when this command runs.
    import psycopg

    from service.analysis.verify import MigrationToVerifyNotFound, verify_rollback

    output = Output(as_json)
    try:
        if not shadow_url:
            raise InvalidDatabaseUrl("No shadow database URL: pass --shadow-url or set SHADOW_DATABASE_URL.")
        shadow = parse_database_url(shadow_url)
        output.target = shadow
        target = parse_database_url(database_url) if database_url else None
        local = read_migrations_directory(migrations_dir)
        migration = local.get(name)
        if migration is None:
            raise MigrationToVerifyNotFound(name, str(migrations_dir))
        rollback_sql, plan = _rollback_sql(migration, rollback_file)
        document = {"migration": name, "target": target.display if target else None, "rollback": _describe_plan(plan, rollback_file)}
        if not rollback_sql.strip():
            _report_no_rollback(output, document, name, plan)
        result = verify_rollback(shadow, local, name, rollback_sql, target=target)
    except MigrateError as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)
    except psycopg.Error as error:
        output.error(getattr(error, "sqlstate", None), f"Database error: {first_line(error)}", EXIT_CANNOT_RUN)

    output.document({**document, **result.to_dict()})
    _print_result(output, result, plan, rollback_file)
    sys.exit(0 if result.verified else EXIT_UNHEALTHY)


def _rollback_sql(migration: LocalMigration, rollback_file: Path | None) -> tuple[str, RollbackPlan | None]:
    if rollback_file is None:
        plan = rollback_plan(migration.script)
        return plan.sql, plan
    try:
        return rollback_file.read_text(encoding="utf-8"), None
    except OSError as error:
        raise MigrateError(f"Cannot read the rollback file {rollback_file}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise MigrateError(f"The rollback file {rollback_file} is not UTF-8 text.") from None


def _describe_plan(plan: RollbackPlan | None, rollback_file: Path | None) -> dict[str, object]:
    if plan is None:
        return {"source": "file", "file": str(rollback_file)}
    described = plan.to_dict()
    described.pop("sql", None)
    return described


def _report_no_rollback(output: Output, document: Mapping[str, object], name: str, plan: RollbackPlan | None) -> None:
    reasons = [reason.message for reason in plan.reasons] if plan else ["the rollback file is empty"]
    output.document({**document, "verified": False, "errors": [f"No rollback SQL for {name}."]})
    output.line(f"Rollback of {name} NOT verified: there is no rollback SQL to verify.")
    for reason in reasons:
        output.line(f"  {reason}")
    output.line("Add a ROLLBACK SQL section to the migration file, or pass --rollback-file.")
    sys.exit(EXIT_UNHEALTHY)


def _print_result(output: Output, result: RollbackVerification, plan: RollbackPlan | None, rollback_file: Path | None) -> None:
    output.line(f"Shadow: {result.shadow}")
    if plan is None:
        output.line(f"Rollback SQL: {rollback_file}")
    else:
        output.line(f"Rollback SQL: {_SOURCES.get(plan.source, plan.source)}")
        if not plan.complete:
            output.line("  It may be incomplete:")
            for reason in plan.reasons:
                output.line(f"    line {reason.line}: {reason.message}" if reason.line else f"    {reason.message}")
    if result.migration_changes:
        output.line(f"{result.migration_name} changes:")
        for change in result.migration_changes:
            output.line(f"  {change}")
    for note in result.notes:
        output.line(f"Note: {note}")
    output.line()
    for error in result.errors:
        output.problem(f"error: {error}")
    if result.scratch_left_behind:
        output.problem(f"warning: scratch database {result.scratch_database} is left on the shadow server; drop it by hand.")
    timing = f"{result.seconds:.2f} s on a scratch database"
    if result.verified:
        output.line(f"Rollback of {result.migration_name} verified: the schema after the migration and its rollback matches the schema before it ({timing}).")
        return
    output.line(f"Rollback of {result.migration_name} NOT verified ({timing}).")
    if result.differences:
        output.line("After the rollback, compared with before the migration:")
        for difference in result.differences:
            output.line(f"  {difference}")
