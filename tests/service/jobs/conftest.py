import pytest

from service.store import repository


@pytest.fixture
def store(scratch_db):
    """The service's own store, migrated, in a scratch database."""
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn
