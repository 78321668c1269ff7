"""The store's schema: applied once by our own deploy, checked (never applied) by the API, and the store's probe."""

import psycopg
import pytest

from service.config.records import Config
from service.config.settings import Settings
from service.http import create_app
from service.store import repository
from service.store.repository import StoreNotMigrated, pending_store_migrations
from tests.store import migrated_store


def test_store_schema_is_applied_once_with_our_own_deploy(store):
    assert repository.migrate_store(store).applied == []
    names = [row[0] for row in store.execute("SELECT migration_name FROM _prisma_migrations").fetchall()]
    assert names == sorted(path.name for path in repository.STORE_MIGRATIONS.iterdir() if path.is_dir())
    assert names[0] == "20261123000000_jobs"


def test_a_store_that_answers_passes_the_probe(store, scratch_db):
    repository.check_store_answers(store)
    closed = psycopg.connect(scratch_db.conninfo)
    closed.close()
    with pytest.raises(psycopg.OperationalError):
        repository.check_store_answers(closed)


def test_create_app_refuses_a_store_that_is_not_migrated_and_leaves_it_untouched(scratch_db):
    settings = Settings(database_url=scratch_db.url, broker_url="redis://127.0.0.1:6379/15", config_file=None)
    with pytest.raises(StoreNotMigrated, match="run `deploy-gate migrate-store` first"):
        create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    with scratch_db.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0


def test_create_app_starts_on_a_migrated_store(scratch_db):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    try:
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["deploy_gate"].close()
    with scratch_db.connect() as conn:
        assert pending_store_migrations(conn) == []
