"""Is the store's schema current? The API and workers only check; `deploy-gate migrate-store` applies.

Applying the store's migrations is a release step (the Procfile's `release:`, compose's `migrate`
service, `make run`), run once per release, not by every gunicorn worker as it starts.
"""

from __future__ import annotations

import psycopg

from service.prisma.migrations import read_migrations_directory
from service.prisma.status import read_status
from service.store.repository import STORE_MIGRATIONS


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
