"""The store's own schema and the probe that the store answers.

Applying the store's migrations is a release step (`deploy-gate migrate-store`: the Procfile's
`release:`, compose's `migrate` service, `make run`), run once per release; the API only checks that
the schema is current, and refuses to start, naming the command, when it is not.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from service.prisma.deploy import DeployOutcome, deploy
from service.prisma.migrations import read_migrations_directory
from service.prisma.status import read_status

STORE_MIGRATIONS = Path(__file__).parent.parent / "migrations"


def migrate_store(conn: psycopg.Connection, schema: str = "public") -> DeployOutcome:
    """Bring the store's schema up to date with deploy-gate's own Prisma-compatible deploy."""
    outcome = deploy(conn, schema, read_migrations_directory(STORE_MIGRATIONS))
    if outcome.failure:
        raise RuntimeError(f"the store migration {outcome.failure.migration_name} failed: {outcome.failure.message}")
    return outcome


class StoreNotMigrated(RuntimeError):
    """The store's schema is behind this release (or its history failed): run `deploy-gate migrate-store`."""


def pending_store_migrations(conn: psycopg.Connection, schema: str = "public") -> list[str]:
    """The store migrations this release has that the store has not applied, or that failed there."""
    status = read_status(conn, schema, read_migrations_directory(STORE_MIGRATIONS))
    return [*status.to_deploy, *(name for name in status.failed if name not in status.to_deploy)]


def require_current_store(conn: psycopg.Connection, schema: str = "public") -> None:
    pending = pending_store_migrations(conn, schema)
    if pending:
        raise StoreNotMigrated(
            f"the store's schema is not current ({len(pending)} migration(s) not applied: {', '.join(pending)}); run `deploy-gate migrate-store` first"
        )


def check_store_answers(conn: psycopg.Connection) -> None:
    """One round trip to the store; raises whatever psycopg raises when it does not answer."""
    conn.execute("SELECT 1")
