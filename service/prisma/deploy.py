"""`migrate deploy`: apply pending migrations exactly as Prisma's native engine does.

Per migration: insert its history row and commit; send the file as the target's Prisma sends it
(`service.prisma.execution`: one simple-query string, which PostgreSQL runs as one implicit
transaction, or with Prisma 7 a file with CREATE INDEX CONCURRENTLY statement by statement); on
success increment `applied_steps_count`, then set `finished_at`; on failure write Prisma-format
`logs` and stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.pq import TransactionStatus

from service.prisma import DEFAULT_LOCK_WAIT_SECONDS, history
from service.prisma.database import current_setting
from service.prisma.errors import DatabaseSchemaNotEmpty, DatabaseUnavailable, FoundFailedMigrations
from service.prisma.execution import DEFAULT_PRISMA_VERSION, pieces_sent
from service.prisma.history import HistoryRow
from service.prisma.lock import advisory_lock
from service.prisma.logs import APPLY_FAILED_HEADER, parse_failure_logs, render_apply_failure
from service.prisma.migrations import LocalMigration, LocalMigrations

ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class SessionTimeouts:
    """Timeouts set on the session before a migration runs, never edited into its file.

    A lock wait past `lock_timeout` fails with SQLSTATE 55P03 and a statement past
    `statement_timeout` with 57014: both retryable errors instead of a deploy that hangs.
    """

    lock_timeout_ms: int | None = None
    statement_timeout_ms: int | None = None

    def settings(self) -> dict[str, str]:
        values = {}
        if self.lock_timeout_ms is not None:
            values["lock_timeout"] = f"{int(self.lock_timeout_ms)}ms"
        if self.statement_timeout_ms is not None:
            values["statement_timeout"] = f"{int(self.statement_timeout_ms)}ms"
        return values


@dataclass(frozen=True)
class MigrationFailure:
    migration_name: str
    sqlstate: str | None
    message: str
    logs: str

    def to_dict(self) -> dict[str, object]:
        return {
            "migration_name": self.migration_name,
            "sqlstate": self.sqlstate,
            "message": self.message,
        }


@dataclass(frozen=True)
class DeployOutcome:
    applied: list[str] = field(default_factory=list)
    failure: MigrationFailure | None = None
    created_migrations_table: bool = False

    @property
    def succeeded(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, object]:
        return {
            "succeeded": self.succeeded,
            "applied": list(self.applied),
            "failure": self.failure.to_dict() if self.failure else None,
            "created_migrations_table": self.created_migrations_table,
        }


def deploy(
    conn: psycopg.Connection,
    schema: str,
    local: LocalMigrations,
    *,
    timeouts: SessionTimeouts = SessionTimeouts(),
    lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS,
    on_progress: ProgressCallback | None = None,
    prisma_version: int = DEFAULT_PRISMA_VERSION,
) -> DeployOutcome:
    """Apply every pending migration under Prisma's advisory lock; stop at the first failure.

    Raises P3019 (provider), P3005 (tables but no history), P3009 (a failed migration exists)
    before anything is written, and P1002 when the lock stays held.
    """
    local.check_provider()
    notify = on_progress or (lambda event, name: None)
    with advisory_lock(conn, lock_wait):
        rows = history.read_history(conn, schema)
        created = False
        if rows is None:
            tables = history.tables_in_schema(conn, schema)
            if tables:
                raise DatabaseSchemaNotEmpty(schema, tables)
            history.create_table(conn, schema)
            rows, created = [], True
        _refuse_failed(rows)
        live = {row.migration_name for row in rows if row.rolled_back_at is None}
        applied: list[str] = []
        for migration in local:
            if migration.name in live:
                continue
            notify("applying", migration.name)
            failure = _apply_one(conn, schema, migration, timeouts, prisma_version)
            if failure is not None:
                notify("failed", migration.name)
                return DeployOutcome(applied, failure, created)
            applied.append(migration.name)
            notify("applied", migration.name)
        return DeployOutcome(applied, None, created)


def _apply_one(conn: psycopg.Connection, schema: str, migration: LocalMigration, timeouts: SessionTimeouts, prisma_version: int) -> MigrationFailure | None:
    migration_id = history.record_migration_started(conn, schema, migration.name, migration.checksum)
    try:
        _run_script(conn, migration.script, timeouts, prisma_version)
    except (_PieceFailed, psycopg.Error) as failed:
        error, offset = (failed.error, failed.offset) if isinstance(failed, _PieceFailed) else (failed, 0)
        _end_open_transaction(conn)
        sqlstate, logs = render_apply_failure(migration.name, migration.script, error, offset=offset)
        try:
            history.record_failed_step(conn, schema, migration_id, logs)
        except psycopg.Error:
            raise DatabaseUnavailable(f"The connection was lost while applying {migration.name}; its history row stays failed without logs.") from None
        message = error.diag.message_primary if getattr(error, "diag", None) else None
        return MigrationFailure(migration.name, sqlstate, message or str(error).strip(), logs)
    if conn.info.transaction_status != TransactionStatus.IDLE:
        # A BEGIN without its COMMIT: marking the migration finished inside that transaction
        # would be undone with it, so end it here and record the migration as failed.
        _end_open_transaction(conn)
        logs = (
            f"{APPLY_FAILED_HEADER}\n\nMigration name: {migration.name}\n\nDatabase error code: 25001\n\n"
            "Database error:\nThe migration left a transaction open (BEGIN without COMMIT); it was rolled back.\n"
        )
        history.record_failed_step(conn, schema, migration_id, logs)
        return MigrationFailure(migration.name, "25001", "the migration left a transaction open (BEGIN without COMMIT)", logs)
    history.record_successful_step(conn, schema, migration_id)
    history.record_migration_finished(conn, schema, migration_id)
    return None


def _end_open_transaction(conn: psycopg.Connection) -> None:
    """Roll back a transaction the script opened itself (`BEGIN`) and left failed or unfinished."""
    if not conn.broken and conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        conn.execute("ROLLBACK")


class _PieceFailed(Exception):
    """A piece of the file failed; `offset` is where the piece starts, for the error position."""

    def __init__(self, error: psycopg.Error, offset: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.offset = offset


def _run_script(conn: psycopg.Connection, script: str, timeouts: SessionTimeouts, prisma_version: int) -> None:
    with session_timeouts(conn, timeouts):
        for piece in pieces_sent(script, prisma_version):
            try:
                # No parameters: psycopg sends the text with the simple-query protocol, untouched.
                conn.execute(piece.text.encode("utf-8"))
            except psycopg.Error as error:
                # A failure inside the file's own BEGIN leaves that transaction aborted: end it first, or
                # putting the settings back fails (25P02) in place of the error that matters.
                _end_open_transaction(conn)
                raise _PieceFailed(error, piece.offset) from error


@contextmanager
def session_timeouts(conn: psycopg.Connection, timeouts: SessionTimeouts) -> Iterator[None]:
    """The timeouts set on the session (not a transaction: statements like CREATE INDEX
    CONCURRENTLY refuse one) for the statements inside, and the previous values put back."""
    settings = timeouts.settings()
    previous = {name: current_setting(conn, name) for name in settings}
    for name, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    try:
        yield
    finally:
        # Inside a transaction the statements opened and left open, a setting put back would be
        # undone with it; the caller ends that transaction.
        if not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE:
            for name, value in previous.items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def _refuse_failed(rows: list[HistoryRow]) -> None:
    failed = [row for row in rows if row.is_failed]
    if not failed:
        return
    details = ""
    for row in failed:
        logs = (row.logs or "").strip()
        suffix = f" with the following logs:\n{logs}" if logs else ""
        details += f"The `{row.migration_name}` migration started at {_chrono_utc(row.started_at)} failed{suffix}\n"
    failures = []
    for row in failed:
        parsed = parse_failure_logs(row.logs)
        failures.append((row.migration_name, parsed.sqlstate if parsed else None, parsed.message if parsed else None))
    raise FoundFailedMigrations(details, failures)


def _chrono_utc(moment: datetime) -> str:
    """A timestamp as Rust's chrono prints a DateTime<Utc>: `2024-01-02 03:04:05.678 UTC`."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        fraction = f"{moment.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + " UTC"
