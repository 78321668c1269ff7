"""The store's schema for tests that start the API on a scratch database (`make run`'s release step)."""

from service.store.repository import migrate_store


def migrated_store(database) -> str:
    """Apply the store's migrations to a scratch database, as `deploy-gate migrate-store` does; its URL."""
    with database.connect() as conn:
        migrate_store(conn)
    return database.url
