import threading
import time

import psycopg
import pytest

from service.prisma.errors import AdvisoryLockTimeout
from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID, LockHolder, advisory_lock, find_lock_holder, preview_query


def test_lock_is_held_inside_the_block_and_released_after(conn, scratch_db):
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as observer:
        with advisory_lock(conn):
            holder = find_lock_holder(observer)
        assert holder.pid == conn.info.backend_pid
        assert holder.application_name == "deploy-gate"
        assert find_lock_holder(observer) is None


def test_timeout_restores_the_sessions_lock_timeout(conn, scratch_db):
    conn.execute("SET lock_timeout = '7s'")
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        with pytest.raises(AdvisoryLockTimeout), advisory_lock(conn, wait_seconds=0.1):
            pass
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "7s"


def test_waiters_are_listed(conn, scratch_db):
    outcomes = []

    def wait_for_lock(waiter):
        try:
            waiter.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        except psycopg.errors.LockNotAvailable as error:
            outcomes.append(error)

    with psycopg.connect(scratch_db.conninfo, autocommit=True) as holder_conn, psycopg.connect(scratch_db.conninfo, autocommit=True) as waiter:
        holder_pid, waiter_pid = holder_conn.info.backend_pid, waiter.info.backend_pid
        holder_conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        waiter.execute("SET lock_timeout = '2s'")
        thread = threading.Thread(target=wait_for_lock, args=(waiter,))
        thread.start()
        holder = None
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            holder = find_lock_holder(conn)
            if holder and holder.waiting_pids:
                break
            time.sleep(0.05)
        thread.join()
    assert holder.pid == holder_pid
    assert holder.waiting_pids == [waiter_pid]
    assert len(outcomes) == 1


def test_password_in_the_holders_query_is_hidden():
    holder = LockHolder(1, "app", "u", None, None, None, "active", "ALTER ROLE x PASSWORD 'hunter2'", [])
    assert "hunter2" not in str(holder)
    assert "hunter2" not in holder.to_dict()["query"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT dblink_connect('host=db user=app password=hunter2 dbname=x')",
        "SELECT dblink_connect('host=db password=''hunter2 twice'' user=x')",
        "SELECT * FROM dblink('postgresql://app:hunter2@db:5432/x', 'SELECT 1')",
    ],
)
def test_a_connection_string_in_another_sessions_query_keeps_its_password_hidden(query):
    preview = preview_query(query)
    assert "hunter2" not in preview
    assert preview.startswith("SELECT")
