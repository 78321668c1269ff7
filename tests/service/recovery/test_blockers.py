"""Blocking sessions on a real PostgreSQL server: other sessions hold real locks in open transactions."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import psycopg
import pytest

from service.analysis.facts.analyze import analyze_migration
from service.recovery.blockers import (
    ACCESS_EXCLUSIVE,
    QUERY_PREVIEW_CHARS,
    ROW_EXCLUSIVE,
    SHARE,
    SHARE_UPDATE_EXCLUSIVE,
    RelationLock,
    describe_wait,
    find_blocking_sessions,
    locks_needed,
)

ADD_EMAIL = 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;'


@pytest.fixture
def tables(conn):
    conn.execute('CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT)')
    conn.execute('CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY)')
    conn.execute('CREATE INDEX "Patient_name_idx" ON "Patient" ("name")')
    return conn


@contextmanager
def holding(scratch_db, statement, application_name="reporting"):
    """Another session that ran `statement` in a transaction it keeps open."""
    other = psycopg.connect(scratch_db.conninfo, application_name=application_name)
    try:
        other.execute(statement)
        yield other
    finally:
        other.rollback()
        other.close()


def blockers_of(conn, script, **options):
    return find_blocking_sessions(conn, analyze_migration(script, "20240102_change"), "public", **options)


def test_a_session_holding_the_table_is_found_with_what_it_runs(tables, scratch_db):
    with holding(scratch_db, 'LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE') as other:
        pid = other.info.backend_pid
        found = blockers_of(tables, ADD_EMAIL)
    assert found.needs == {'"Patient"': (ACCESS_EXCLUSIVE,)}
    [blocker] = found.blockers
    assert (blocker.pid, blocker.application_name, blocker.state) == (pid, "reporting", "idle in transaction")
    assert blocker.query == 'LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE'
    assert blocker.transaction_age_seconds >= 0
    assert blocker.locks == (RelationLock('"Patient"', ACCESS_EXCLUSIVE, True),)
    assert str(blocker).startswith(f'pid {pid} (reporting, idle in transaction) `LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE` for ')


def test_our_own_session_is_never_listed(tables):
    with tables.transaction():
        tables.execute('LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE')
        assert blockers_of(tables, ADD_EMAIL).blockers == ()


def test_a_lock_on_another_table_is_ignored(tables, scratch_db):
    with holding(scratch_db, 'LOCK TABLE "Visit" IN ACCESS EXCLUSIVE MODE'):
        assert blockers_of(tables, ADD_EMAIL).blockers == ()


def test_only_modes_that_conflict_with_the_migrations_block_it(tables, scratch_db):
    # An open INSERT holds ROW EXCLUSIVE: CREATE INDEX (SHARE) waits for it, and so does a
    # concurrent build, which waits for the table's writers before it reads the table; a reader
    # blocks neither.
    with holding(scratch_db, """INSERT INTO "Patient" ("name") VALUES ('Ada')""") as other:
        pid = other.info.backend_pid
        plain = blockers_of(tables, 'CREATE INDEX "Patient_id_name_idx" ON "Patient" ("id", "name");')
        concurrent = blockers_of(tables, 'CREATE INDEX CONCURRENTLY "Patient_id_name_idx" ON "Patient" ("id", "name");')
    assert [(b.pid, b.locks) for b in plain.blockers] == [(pid, (RelationLock('"Patient"', ROW_EXCLUSIVE, True),))]
    assert plain.needs == {'"Patient"': (SHARE,)}
    assert [b.pid for b in concurrent.blockers] == [pid]
    assert set(concurrent.needs['"Patient"']) == {SHARE, SHARE_UPDATE_EXCLUSIVE}
    with holding(scratch_db, 'SELECT * FROM "Patient"'):
        assert blockers_of(tables, 'CREATE INDEX CONCURRENTLY "Patient_id_name_idx" ON "Patient" ("id", "name");').blockers == ()


def test_a_session_queued_ahead_is_listed_with_the_pids_it_waits_for(tables, scratch_db):
    with holding(scratch_db, 'SELECT * FROM "Patient"') as reader:
        reader_pid = reader.info.backend_pid
        waiter = psycopg.connect(scratch_db.conninfo, application_name="other-migrator")
        waiter_pid = waiter.info.backend_pid
        waiter.execute("SET lock_timeout = '10s'")
        queued = threading.Thread(target=waiter.execute, args=('LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE',))
        queued.start()
        try:
            deadline = time.monotonic() + 10
            while not tables.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", (waiter_pid,)).fetchone():
                assert time.monotonic() < deadline, "the waiter never queued"
                time.sleep(0.02)
            # Rows written take ROW EXCLUSIVE: the reader's ACCESS SHARE does not conflict, the queued ACCESS EXCLUSIVE does.
            found = blockers_of(tables, """INSERT INTO "Patient" ("name") VALUES ('Ada');""")
        finally:
            reader.rollback()
            queued.join()
            waiter.rollback()
            waiter.close()
    [blocker] = found.blockers
    assert (blocker.pid, blocker.application_name) == (waiter_pid, "other-migrator")
    assert blocker.locks == (RelationLock('"Patient"', ACCESS_EXCLUSIVE, False),)
    assert blocker.waiting_for == (reader_pid,)
    assert f"(queued behind pid {reader_pid})" in str(blocker)


def test_sessions_younger_than_the_bound_are_left_out(tables, scratch_db):
    with holding(scratch_db, 'LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE'):
        assert blockers_of(tables, ADD_EMAIL, older_than_seconds=3600).blockers == ()
        assert len(blockers_of(tables, ADD_EMAIL, older_than_seconds=0).blockers) == 1


def test_a_dropped_index_stands_for_its_table_and_long_queries_are_cut(tables, scratch_db):
    long_query = 'LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE /* ' + "x" * 500 + " */"
    with holding(scratch_db, long_query):
        found = blockers_of(tables, 'DROP INDEX "Patient_name_idx";')
    assert found.needs == {'"Patient"': (ACCESS_EXCLUSIVE,)}
    [blocker] = found.blockers
    assert len(blocker.query) == QUERY_PREVIEW_CHARS and blocker.query.endswith("…")


def test_locks_needed_from_the_migrations_statements():
    facts = analyze_migration(
        'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'
        'CREATE INDEX CONCURRENTLY "Visit_idx" ON app."Visit" ("id");\n'
        """INSERT INTO "Audit" ("note") VALUES ('x');\n"""
        'TRUNCATE "Scratch";\n'
        'ALTER TABLE "Visit" VALIDATE CONSTRAINT "Visit_fk";\n'
        "ALTER TYPE \"Role\" ADD VALUE 'admin';\n",
        "20240102_mixed",
    )
    assert locks_needed(facts, "public") == {
        ("public", "Patient"): {ACCESS_EXCLUSIVE},
        ("app", "Visit"): {SHARE_UPDATE_EXCLUSIVE, SHARE},
        ("public", "Audit"): {ROW_EXCLUSIVE},
        ("public", "Scratch"): {ACCESS_EXCLUSIVE},
        ("public", "Visit"): {SHARE_UPDATE_EXCLUSIVE},
    }


def test_a_look_in_words():
    blocker = {
        "pid": 1234,
        "application_name": "psql",
        "state": "idle in transaction",
        "query": 'LOCK TABLE "Patient"',
        "transaction_age_seconds": 2.14,
        "locks": [{"relation": '"Patient"', "mode": ACCESS_EXCLUSIVE, "granted": True}],
        "waiting_for": [],
    }
    look = {"migration": "20240102_add_email", "needs": {'"Patient"': [ACCESS_EXCLUSIVE]}, "blockers": [blocker], "waited_seconds": 0.4, "bound_seconds": 30}
    assert describe_wait({**look, "outcome": "waiting", "next_look_in_seconds": 1.26}) == (
        'waiting for 1 session holding locks on "Patient": pid 1234 (psql, idle in transaction) `LOCK TABLE "Patient"` for 2.1 s, '
        'AccessExclusiveLock on "Patient"; next look in 1.3 s (0.4 of 30 s waited)'
    )
    assert describe_wait({**look, "outcome": "gave_up", "waited_seconds": 30.2}).startswith(
        '1 session still holds locks on "Patient" after 30.2 s (retry_wait_seconds = 30): pid 1234 (psql'
    )
    assert describe_wait({**look, "blockers": [], "outcome": "clear", "waited_seconds": 3.0}) == (
        'no session holds a lock on "Patient" that 20240102_add_email must wait for after 3.0 s; applying it again'
    )


def test_a_concurrent_drop_waits_for_every_session_using_the_table():
    facts = analyze_migration('DROP INDEX CONCURRENTLY IF EXISTS "Order_patientId_idx";', "20240103_drop")
    assert locks_needed(facts, "public") == {("public", "Order_patientId_idx"): {SHARE_UPDATE_EXCLUSIVE, ACCESS_EXCLUSIVE}}
