"""The store's schema for tests that start the API on a scratch database (`make run`'s release step)."""

import os

from service.store.repository import migrate_store, record_heartbeat


def migrated_store(database) -> str:
    """Apply the store's migrations to a scratch database, as `deploy-gate migrate-store` does; its URL."""
    with database.connect() as conn:
        migrate_store(conn)
    return database.url


def record_live_worker(database, worker_id: str = "test-worker") -> str:
    """A fresh heartbeat, as a worker records it, for tests of the API with no worker process (/readyz wants one)."""
    with database.connect() as conn:
        record_heartbeat(conn, worker_id, hostname="test", pid=os.getpid())
    return worker_id
