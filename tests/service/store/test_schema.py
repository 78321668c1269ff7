"""The API refuses to start on a store whose schema is behind; it never migrates it itself."""

import pytest

from service.config import Config, Settings
from service.http import create_app
from service.store.schema import StoreNotMigrated, pending_store_migrations
from tests.store import migrated_store


def test_create_app_refuses_a_store_that_is_not_migrated_and_leaves_it_untouched(scratch_db):
    settings = Settings(database_url=scratch_db.url, redis_url="redis://127.0.0.1:6379/15", config_file=None)
    with pytest.raises(StoreNotMigrated, match="run `deploy-gate migrate-store` first"):
        create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    with scratch_db.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0


def test_create_app_starts_on_a_migrated_store(scratch_db):
    settings = Settings(database_url=migrated_store(scratch_db), redis_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    try:
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["deploy_gate"].close()
    with scratch_db.connect() as conn:
        assert pending_store_migrations(conn) == []

