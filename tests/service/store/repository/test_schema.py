import psycopg
import pytest

from service.store import repository


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
