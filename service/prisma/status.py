"""Classify a target's migration history against the local migrations, as Prisma does and beyond.

Two views of the same facts:
- Prisma's (`prisma migrate status`): migrations with no history row at all are unapplied, names
  in the history but not in the directory are unpersisted, unfinished and not rolled back rows are
  failed, and a mismatch with the checksum of the first row of a name is an edit. Prisma 6.19's
  status exits 0 when the history table exists, nothing is unapplied and nothing failed: edits and
  unpersisted names alone do not fail it, and a migration whose every row is rolled back counts as
  present although deploy will apply it again.
- deploy-gate's: one state per migration (applied, re-applied after a rollback, pending, failed,
  rolled back, missing locally), with the parsed failure, the edit flag and the rows behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import psycopg

from service.prisma.history import HistoryRow, read_history
from service.prisma.lock import LockHolder, find_lock_holder
from service.prisma.logs import FailureDetails, parse_failure_logs
from service.prisma.migrations import LocalMigrations


class MigrationState(StrEnum):
    APPLIED = "applied"  # a finished row, never rolled back
    REAPPLIED = "reapplied"  # rolled back at least once, then applied again
    PENDING = "pending"  # in the directory, no history row: deploy applies it
    FAILED = "failed"  # a row neither finished nor rolled back: deploy refuses (P3009)
    ROLLED_BACK = "rolled_back"  # every row rolled back: deploy applies it again
    MISSING_LOCALLY = "missing_locally"  # in the history, not in the directory


NEEDS_DEPLOY = frozenset({MigrationState.PENDING, MigrationState.ROLLED_BACK})


@dataclass(frozen=True)
class MigrationStatus:
    name: str
    state: MigrationState
    in_directory: bool
    # Prisma's rule: the local file does not match the checksum of the first row of this name.
    edited: bool = False
    rows: tuple[HistoryRow, ...] = ()
    failure: FailureDetails | None = None
    # For a migration missing locally: the state its rows give it.
    history_state: MigrationState | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.state.value,
            "in_directory": self.in_directory,
            "edited": self.edited,
            "history_state": self.history_state.value if self.history_state else None,
            "failure": self.failure.to_dict() if self.failure else None,
            "rows": [row.to_dict() for row in self.rows],
        }


@dataclass(frozen=True)
class HistoryStatus:
    schema: str
    has_migrations_table: bool
    migrations: tuple[MigrationStatus, ...]
    local_count: int
    unapplied: tuple[str, ...]  # Prisma: local names with no row at all
    unpersisted: tuple[str, ...]  # Prisma: history rows whose name is not local, one per row
    failed: tuple[str, ...]  # Prisma: failed rows' names, one per row
    edited: tuple[str, ...]
    lock_holder: LockHolder | None = None
    _by_name: dict[str, MigrationStatus] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({m.name: m for m in self.migrations})

    def get(self, name: str) -> MigrationStatus | None:
        return self._by_name.get(name)

    def names_in(self, *states: MigrationState) -> list[str]:
        return [m.name for m in self.migrations if m.state in states]

    @property
    def to_deploy(self) -> list[str]:
        """What `migrate deploy` would apply: local migrations with no row that is not rolled back."""
        return self.names_in(*NEEDS_DEPLOY)

    @property
    def history_diagnostic(self) -> str | None:
        """Prisma's diagnostic: databaseIsBehind, migrationsDirectoryIsBehind or historiesDiverge."""
        if self.unapplied and self.unpersisted:
            return "historiesDiverge"
        if self.unapplied:
            return "databaseIsBehind"
        if self.unpersisted:
            return "migrationsDirectoryIsBehind"
        return None

    @property
    def last_common_migration(self) -> str | None:
        """For diverging histories: the local migration just before the first unapplied one."""
        if not self.unapplied:
            return None
        local_names = [m.name for m in self.migrations if m.in_directory]
        index = local_names.index(self.unapplied[0])
        return local_names[index - 1] if index > 0 else None

    @property
    def up_to_date(self) -> bool:
        """What makes `prisma migrate status` exit 0 (its command's checks, in its order)."""
        if self.history_diagnostic in ("databaseIsBehind", "historiesDiverge"):
            return False
        return self.has_migrations_table and not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.up_to_date else 1

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": self.schema,
            "up_to_date": self.up_to_date,
            "has_migrations_table": self.has_migrations_table,
            "local_migrations": self.local_count,
            "summary": {state.value: self.names_in(state) for state in MigrationState},
            "to_deploy": self.to_deploy,
            "prisma": {
                "history": self.history_diagnostic,
                "last_common_migration": self.last_common_migration,
                "unapplied": list(self.unapplied),
                "unpersisted": list(self.unpersisted),
                "failed": list(self.failed),
                "edited": list(self.edited),
                "exit_code": self.exit_code,
            },
            "lock_holder": self.lock_holder.to_dict() if self.lock_holder else None,
            "migrations": [m.to_dict() for m in self.migrations],
        }


def _state_of_rows(rows: list[HistoryRow]) -> MigrationState:
    if any(row.is_failed for row in rows):
        return MigrationState.FAILED
    if any(row.is_applied for row in rows):
        if any(row.is_rolled_back for row in rows):
            return MigrationState.REAPPLIED
        return MigrationState.APPLIED
    return MigrationState.ROLLED_BACK


def _last_failure(rows: list[HistoryRow]) -> FailureDetails | None:
    for row in reversed(rows):
        if row.logs and row.logs.strip():
            return parse_failure_logs(row.logs)
    return None


def classify_history(
    local: LocalMigrations,
    rows: list[HistoryRow] | None,
    schema: str = "public",
    lock_holder: LockHolder | None = None,
) -> HistoryStatus:
    """Classify every migration, local or in the history. Pure: no database access."""
    has_table = rows is not None
    rows = rows or []
    rows_by_name: dict[str, list[HistoryRow]] = {}
    for row in rows:
        rows_by_name.setdefault(row.migration_name, []).append(row)

    migrations: list[MigrationStatus] = []
    unapplied: list[str] = []
    edited: list[str] = []
    for migration in local:
        named_rows = rows_by_name.get(migration.name)
        if not named_rows:
            unapplied.append(migration.name)
            migrations.append(MigrationStatus(migration.name, MigrationState.PENDING, True))
            continue
        is_edited = not migration.matches_checksum(named_rows[0].checksum)
        if is_edited:
            edited.append(migration.name)
        state = _state_of_rows(named_rows)
        failure = _last_failure(named_rows) if state is MigrationState.FAILED else None
        migrations.append(MigrationStatus(migration.name, state, True, is_edited, tuple(named_rows), failure))

    for name, named_rows in rows_by_name.items():
        if local.get(name) is not None:
            continue
        history_state = _state_of_rows(named_rows)
        failure = _last_failure(named_rows) if history_state is MigrationState.FAILED else None
        migrations.append(
            MigrationStatus(
                name,
                MigrationState.MISSING_LOCALLY,
                False,
                rows=tuple(named_rows),
                failure=failure,
                history_state=history_state,
            )
        )
    # Prisma lists unpersisted names in history order, one entry per row.
    unpersisted = [row.migration_name for row in rows if local.get(row.migration_name) is None]

    return HistoryStatus(
        schema=schema,
        has_migrations_table=has_table,
        migrations=tuple(migrations),
        local_count=len(local),
        unapplied=tuple(unapplied),
        unpersisted=tuple(unpersisted),
        failed=tuple(row.migration_name for row in rows if row.is_failed),
        edited=tuple(edited),
        lock_holder=lock_holder,
    )


def read_status(conn: psycopg.Connection, schema: str, local: LocalMigrations) -> HistoryStatus:
    """Read the history and the lock holder from a target and classify them. Takes no lock."""
    local.check_provider()
    rows = read_history(conn, schema)
    return classify_history(local, rows, schema, find_lock_holder(conn))
