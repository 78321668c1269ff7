"""`status`, `deploy` and `resolve`: Prisma's history commands against one target database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.cli import (
    EXIT_CANNOT_RUN,
    EXIT_UNHEALTHY,
    Output,
    common_options,
    main,
    prisma_version_option,
    project_prisma_version,
    target_session,
)
from service.prisma import DEFAULT_LOCK_WAIT_SECONDS

if TYPE_CHECKING:
    from service.prisma.database import DatabaseTarget
    from service.prisma.deploy import DeployOutcome
    from service.prisma.status import HistoryStatus

# The history modules need psycopg; they are imported in the commands, so that `lint` and
# `analyze`, which never connect, do not pay for it at start-up.

_STATE_LABELS = {
    "applied": "applied",
    "reapplied": "re-applied",
    "pending": "pending",
    "failed": "FAILED",
    "rolled_back": "rolled back",
    "missing_locally": "not in directory",
}


_lock_wait_option = click.option(
    "--lock-wait",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_LOCK_WAIT_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for Prisma's advisory lock.",
)


@main.command()
@common_options
def status(migrations_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Classify every migration; exit 0 when up to date, 1 otherwise (as `prisma migrate status`)."""
    from service.prisma.status import read_status

    output = Output(as_json)
    with target_session(output, database_url, migrations_dir) as (conn, target, local):
        report = read_status(conn, target.schema, local)
    # Either form, never both: a history of thousands of migrations is costly to describe twice.
    if output.as_json:
        output.document({"target": target.display, "migrations_directory": str(migrations_dir), **report.to_dict()})
    else:
        output.lines(_status_lines(report, target, migrations_dir))
    sys.exit(report.exit_code)


def _status_lines(report: HistoryStatus, target: DatabaseTarget, migrations_dir: Path) -> Iterator[str]:
    from service.prisma.status import MigrationState

    yield f"Target: {target.display}"
    count = report.local_count
    yield f"{count} migration{'' if count == 1 else 's'} found in {migrations_dir}"
    if not report.has_migrations_table:
        yield "No _prisma_migrations table yet: nothing was ever applied."
    width = max((len(label) for label in _STATE_LABELS.values()), default=0)
    for migration in report.migrations:
        notes = []
        if migration.edited:
            notes.append("edited after apply: the checksum differs")
        if migration.state is MigrationState.ROLLED_BACK:
            notes.append("deploy will apply it again")
        if migration.history_state is not None:
            notes.append(f"{_STATE_LABELS[migration.history_state.value]} in the history")
        if migration.failure:
            notes.append(f"{migration.failure.sqlstate or 'no SQLSTATE'}: {migration.failure.message}")
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        yield f"  {_STATE_LABELS[migration.state.value]:<{width}}  {migration.name}{suffix}"
    holder = report.lock_holder
    yield f"Migration lock 72707369: {'held by ' + str(holder) if holder else 'free'}"
    yield ""
    if report.up_to_date:
        yield "Database schema is up to date!"
        for label, names in (
            ("rolled back; deploy will apply again", report.names_in(MigrationState.ROLLED_BACK)),
            ("edited after apply", report.edited),
            ("in the database but not in the directory", report.names_in(MigrationState.MISSING_LOCALLY)),
        ):
            if names:
                yield f"Note: {len(names)} {label}: {', '.join(names)}"
        return
    problems = []
    for label, names in (
        ("failed", report.failed),
        ("not yet applied", report.unapplied),
        ("in the database but not in the directory", report.unpersisted),
    ):
        if names:
            problems.append(f"{len(names)} {label}")
    yield "Not up to date: " + ", ".join(problems) + "."
    if report.failed:
        yield "Failed migrations block `deploy` (P3009); see `deploy-gate resolve --help`."


@main.command("deploy")
@common_options
@click.option("--lock-timeout", type=click.IntRange(min=0), metavar="MS", help="lock_timeout for each migration, in ms.")
@click.option("--statement-timeout", type=click.IntRange(min=0), metavar="MS", help="statement_timeout for each migration, in ms.")
@_lock_wait_option
@prisma_version_option
def deploy_command(
    migrations_dir: Path,
    database_url: str | None,
    as_json: bool,
    lock_timeout: int | None,
    statement_timeout: int | None,
    lock_wait: float,
    prisma_version: str | None,
) -> None:
    """Apply pending migrations as `prisma migrate deploy` does; exit 1 if one fails."""
    from service.prisma.deploy import SessionTimeouts, deploy
    from service.prisma.execution import DEFAULT_PRISMA_VERSION

    output = Output(as_json)
    follows = project_prisma_version(output, migrations_dir, prisma_version) or DEFAULT_PRISMA_VERSION

    def progress(event: str, name: str) -> None:
        if event == "applying":
            output.line(f"Applying migration `{name}`")

    with target_session(output, database_url, migrations_dir) as (conn, target, local):
        output.line(f"Target: {target.display}")
        output.line(f"{len(local)} migration{'' if len(local) == 1 else 's'} found in {migrations_dir}, run as Prisma {follows} runs them")
        outcome = deploy(
            conn,
            target.schema,
            local,
            timeouts=SessionTimeouts(lock_timeout, statement_timeout),
            lock_wait=lock_wait,
            on_progress=progress,
            prisma_version=follows,
        )
    output.document({"target": target.display, "prisma_version": follows, **outcome.to_dict()})
    _print_deploy(output, outcome)
    sys.exit(0 if outcome.succeeded else EXIT_UNHEALTHY)


def _print_deploy(output: Output, outcome: DeployOutcome) -> None:
    if outcome.applied:
        output.line()
        output.line("The following migration(s) have been applied:")
        for name in outcome.applied:
            output.line(f"  {name}")
    if outcome.failure:
        failure = outcome.failure
        output.problem(f"error: P3018: Migration `{failure.migration_name}` failed to apply (SQLSTATE {failure.sqlstate or 'none'}): {failure.message}")
        return
    output.line()
    output.line("All migrations have been successfully applied." if outcome.applied else "No pending migrations to apply.")


@main.command()
@common_options
@click.option("--rolled-back", "rolled_back", metavar="NAME", help="Mark a failed migration as rolled back.")
@click.option("--applied", metavar="NAME", help="Record a migration as applied without running it.")
@_lock_wait_option
def resolve(
    migrations_dir: Path,
    database_url: str | None,
    as_json: bool,
    rolled_back: str | None,
    applied: str | None,
    lock_wait: float,
) -> None:
    """Resolve a failed migration as `prisma migrate resolve` does."""
    from service.prisma.resolve import resolve_applied, resolve_rolled_back

    output = Output(as_json)
    if bool(rolled_back) == bool(applied):
        output.error(None, "Pass exactly one of --rolled-back NAME or --applied NAME.", EXIT_CANNOT_RUN)
    with target_session(output, database_url, migrations_dir) as (conn, target, local):
        if rolled_back:
            ids = resolve_rolled_back(conn, target.schema, rolled_back, lock_wait=lock_wait)
            name, action = rolled_back, "rolled_back"
            text = f"Migration {rolled_back} marked as rolled back."
        else:
            assert applied, "exactly one of --rolled-back and --applied is given (checked above)"
            ids = [resolve_applied(conn, target.schema, local, applied, lock_wait=lock_wait)]
            name, action = applied, "applied"
            text = f"Migration {applied} marked as applied."
    output.document({"target": target.display, "migration": name, "marked": action, "row_ids": ids})
    output.line(text)
