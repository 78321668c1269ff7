import time

import psycopg

from service.store import repository
from service.store.repository.target_locks import TARGET_LOCK_NAMESPACE, target_lock_key


def held_elsewhere(scratch_db, target):
    """Whether another session holds the target's lock: it cannot take the lock itself."""
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as other:
        taken = other.execute("SELECT pg_try_advisory_lock(%s, %s)", (TARGET_LOCK_NAMESPACE, target_lock_key(target))).fetchone()[0]
    return not taken


def test_a_target_is_locked_for_the_block_only(scratch_db):
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as store:
        with repository.target_lock(store, "prod"):
            assert held_elsewhere(scratch_db, "prod")
            assert not held_elsewhere(scratch_db, "staging")
        assert not held_elsewhere(scratch_db, "prod")


def test_a_closed_connection_leaves_the_lock_released(scratch_db):
    store = psycopg.connect(scratch_db.conninfo, autocommit=True)
    with repository.target_lock(store, "prod"):
        store.close()
    # The server ends the closed session's backend, and with it the lock, a moment after the client closes.
    deadline = time.monotonic() + 10
    while held_elsewhere(scratch_db, "prod") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not held_elsewhere(scratch_db, "prod")
