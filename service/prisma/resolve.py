"""`migrate resolve`: mark a failed migration rolled back, or a migration applied, as Prisma does."""

from __future__ import annotations

import psycopg

from service.prisma import DEFAULT_LOCK_WAIT_SECONDS, history
from service.prisma.errors import (
    CannotRollBackSucceededMigration,
    CannotRollBackUnappliedMigration,
    MigrationAlreadyApplied,
    MigrationToMarkAppliedNotFound,
    NoMigrationsTable,
)
from service.prisma.lock import advisory_lock
from service.prisma.migrations import LocalMigrations


def resolve_rolled_back(
    conn: psycopg.Connection,
    schema: str,
    migration_name: str,
    *,
    lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS,
) -> list[str]:
    """Set `rolled_back_at` on the failed rows of a migration; return their ids.

    P3011 when the history has no row of that name, P3012 when every row of it finished
    (a migration that succeeded cannot be resolved as rolled back).
    """
    with advisory_lock(conn, lock_wait):
        rows = history.read_history(conn, schema)
        if rows is None:
            raise NoMigrationsTable(
                f"Migration `{migration_name}` cannot be rolled back: schema `{schema}` has no "
                "_prisma_migrations table, so no migration was ever applied to it."
            )
        relevant = [row for row in rows if row.migration_name == migration_name]
        if not relevant:
            raise CannotRollBackUnappliedMigration(migration_name)
        if all(row.finished_at is not None for row in relevant):
            raise CannotRollBackSucceededMigration(migration_name)
        failed_ids = [row.id for row in relevant if row.is_failed]
        with conn.transaction():
            for migration_id in failed_ids:
                history.mark_rolled_back(conn, schema, migration_id)
        return failed_ids


def resolve_applied(
    conn: psycopg.Connection,
    schema: str,
    local: LocalMigrations,
    migration_name: str,
    *,
    lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS,
) -> str:
    """Record a migration as applied without running it; return the new row's id.

    Needs the local migration (P3017) for its checksum; P3008 when a finished row of it exists,
    rolled back or not. Failed rows are marked rolled back first. With no history table yet
    (baselining an existing database) the table is created, as Prisma does.
    """
    local.check_provider()
    with advisory_lock(conn, lock_wait):
        migration = local.get(migration_name)
        if migration is None:
            raise MigrationToMarkAppliedNotFound(migration_name)
        rows = history.read_history(conn, schema)
        with conn.transaction():
            if rows is None:
                history.create_table(conn, schema)
                rows = []
            relevant = [row for row in rows if row.migration_name == migration_name]
            if any(row.finished_at is not None for row in relevant):
                raise MigrationAlreadyApplied(migration_name)
            for row in relevant:
                if row.is_failed:
                    history.mark_rolled_back(conn, schema, row.id)
            return history.insert_applied(conn, schema, migration_name, migration.checksum)
