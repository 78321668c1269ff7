import threading
import time
import uuid

import psycopg
import pytest

from service.prisma.deploy import SessionTimeouts, deploy
from service.prisma.errors import (
    AdvisoryLockTimeout,
    DatabaseSchemaNotEmpty,
    FoundFailedMigrations,
    ProviderSwitched,
)
from service.prisma.lock import find_lock_holder
from service.prisma.migrations import migrations_from_bundle, read_migrations_directory, render_checksum
from service.prisma.resolve import resolve_rolled_back
from tests.service.prisma.history_helpers import history_rows, lock_held_elsewhere

INIT = 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'


def table_exists(conn, name, schema="public"):
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{name}"',)).fetchone()[0]


def test_successful_deploy_writes_rows_as_prisma_does(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_post": 'CREATE TABLE "Post" ("id" INT);'})
    outcome = deploy(conn, "public", local)
    assert outcome.succeeded and outcome.applied == ["1_init", "2_post"]
    assert outcome.created_migrations_table
    rows = history_rows(conn)
    assert [row["migration_name"] for row in rows] == ["1_init", "2_post"]
    for row, migration in zip(rows, local, strict=True):
        assert uuid.UUID(row["id"]).version == 4
        assert row["checksum"] == render_checksum(migration.script)
        assert row["finished_at"] >= row["started_at"]
        assert row["applied_steps_count"] == 1
        assert row["logs"] is None and row["rolled_back_at"] is None
    assert table_exists(conn, "User") and table_exists(conn, "Post")
    assert deploy(conn, "public", local).applied == []


def test_history_table_has_prisma_definition(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    columns = conn.execute(
        "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [
        ("id", "character varying", 36, "NO", None),
        ("checksum", "character varying", 64, "NO", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        ("migration_name", "character varying", 255, "NO", None),
        ("logs", "text", None, "YES", None),
        ("rolled_back_at", "timestamp with time zone", None, "YES", None),
        ("started_at", "timestamp with time zone", None, "NO", "now()"),
        ("applied_steps_count", "integer", None, "NO", "0"),
    ]


def test_duplicate_object_fails_leaves_no_effects_and_stops(conn):
    local = migrations_from_bundle(
        {
            "1_init": INIT,
            "2_dup": 'CREATE TABLE "Side" ("id" INT);\nCREATE TABLE "User" ("id" INT);\n',
            "3_never": 'CREATE TABLE "Never" ("id" INT);',
        }
    )
    outcome = deploy(conn, "public", local)
    assert outcome.applied == ["1_init"]
    assert outcome.failure.migration_name == "2_dup"
    assert outcome.failure.sqlstate == "42P07"
    # One implicit transaction: the statement before the failing one is undone too.
    assert not table_exists(conn, "Side")
    assert not table_exists(conn, "Never")
    rows = history_rows(conn)
    assert [row["migration_name"] for row in rows] == ["1_init", "2_dup"]
    failed = rows[1]
    assert failed["finished_at"] is None and failed["rolled_back_at"] is None
    assert failed["applied_steps_count"] == 0
    logs = failed["logs"]
    assert logs.startswith("A migration failed to apply. New migrations cannot be applied")
    assert "\n\nMigration name: 2_dup\n\nDatabase error code: 42P07\n\nDatabase error:\n" in logs
    assert 'ERROR: relation "User" already exists' in logs
    assert 'DbError { severity: "ERROR", parsed_severity: Some(Error), code: SqlState(E42P07)' in logs


def test_syntax_error_logs_the_position(conn):
    outcome = deploy(conn, "public", migrations_from_bundle({"1_bad": "SELECT 1;\n\nCREATE TABEL x (id int);\n"}))
    assert outcome.failure.sqlstate == "42601"
    logs = history_rows(conn)[0]["logs"]
    assert "Database error code: 42601" in logs
    assert "\n\nPosition:\n" in logs
    assert "\x1b[1;31m CREATE TABEL x (id int);\x1b[0m" in logs
    assert 'syntax error at or near "TABEL"' in outcome.failure.message


def test_lock_timeout_turns_a_lock_wait_into_a_retryable_error(conn, scratch_db):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    local = migrations_from_bundle({"1_init": INIT, "2_alter": 'ALTER TABLE "User" ADD COLUMN "age" INT;'})
    with psycopg.connect(scratch_db.conninfo) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS SHARE MODE')
        started = time.monotonic()
        outcome = deploy(conn, "public", local, timeouts=SessionTimeouts(lock_timeout_ms=200))
        waited = time.monotonic() - started
        blocker.rollback()
    assert outcome.failure.sqlstate == "55P03"
    assert waited < 5
    assert "Database error code: 55P03" in history_rows(conn)[1]["logs"]
    # The session settings are put back; the file is never edited.
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"


def test_statement_timeout_cancels_a_long_migration(conn):
    outcome = deploy(
        conn,
        "public",
        migrations_from_bundle({"1_slow": "SELECT pg_sleep(5);"}),
        timeouts=SessionTimeouts(statement_timeout_ms=100),
    )
    assert outcome.failure.sqlstate == "57014"
    assert conn.execute("SHOW statement_timeout").fetchone()[0] == "0"


def test_tables_without_history_is_p3005(conn):
    conn.execute("CREATE TABLE legacy (id int)")
    with pytest.raises(DatabaseSchemaNotEmpty) as raised:
        deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    assert raised.value.code == "P3005"
    assert "tables (legacy)" in raised.value.message
    assert "resolve --applied" in raised.value.message
    assert not table_exists(conn, "_prisma_migrations")
    assert not table_exists(conn, "User")


def test_views_sequences_and_enums_alone_do_not_make_a_schema_non_empty(conn):
    conn.execute("CREATE VIEW v AS SELECT 1 AS x; CREATE SEQUENCE s; CREATE TYPE mood AS ENUM ('ok')")
    assert deploy(conn, "public", migrations_from_bundle({"1_init": INIT})).applied == ["1_init"]


def test_failed_migration_blocks_deploy_p3009(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_dup": INIT}))
    local = migrations_from_bundle({"1_init": INIT, "2_dup": INIT, "3_next": "CREATE TABLE n (id int);"})
    with pytest.raises(FoundFailedMigrations) as raised:
        deploy(conn, "public", local)
    error = raised.value
    assert error.code == "P3009"
    assert "The `2_dup` migration started at " in error.message and " UTC failed with the following logs:" in error.message
    assert error.failures == [("2_dup", "42P07", 'relation "User" already exists')]
    assert not table_exists(conn, "n")
    assert len(history_rows(conn)) == 2


def test_provider_mismatch_p3019_writes_nothing(conn, write_migrations):
    local = read_migrations_directory(write_migrations({"1_init": INIT}, provider="mysql"))
    with pytest.raises(ProviderSwitched):
        deploy(conn, "public", local)
    assert not table_exists(conn, "_prisma_migrations")


def test_rolled_back_migration_is_applied_again(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_x": "CREATE TABLE x (id int); SELECT 1/0;"}))
    resolve_rolled_back(conn, "public", "2_x")
    outcome = deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_x": "CREATE TABLE x (id int);"}))
    assert outcome.applied == ["2_x"]
    rows = [row for row in history_rows(conn) if row["migration_name"] == "2_x"]
    assert rows[0]["rolled_back_at"] is not None and rows[1]["finished_at"] is not None


def test_explicit_transaction_control_can_leave_partial_effects(conn):
    script = "BEGIN;\nCREATE TABLE kept (id int);\nCOMMIT;\nCREATE TABLE kept (id int);\n"
    outcome = deploy(conn, "public", migrations_from_bundle({"1_partial": script}))
    assert outcome.failure.sqlstate == "42P07"
    assert table_exists(conn, "kept")


def test_failure_inside_an_explicit_transaction_is_rolled_back_and_recorded(conn):
    # Prisma writes this wrapping itself when an enum value is removed.
    outcome = deploy(conn, "public", migrations_from_bundle({"1_wrapped": 'BEGIN;\nCREATE TABLE "T" (id int);\nSELECT 1/0;\nCOMMIT;\n'}))
    assert outcome.failure.sqlstate == "22012"
    assert not table_exists(conn, "T")
    assert "Database error code: 22012" in history_rows(conn)[0]["logs"]
    assert find_lock_holder(conn) is None


def test_begin_without_commit_is_a_failure_not_a_silent_rollback(conn):
    outcome = deploy(conn, "public", migrations_from_bundle({"1_open": 'BEGIN;\nCREATE TABLE "Open" (id int);\n'}))
    assert outcome.failure.sqlstate == "25001"
    assert not table_exists(conn, "Open")
    row = history_rows(conn)[0]
    assert row["finished_at"] is None and "left a transaction open" in row["logs"]


def test_concurrently_is_refused_inside_the_implicit_transaction(conn):
    script = "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"
    outcome = deploy(conn, "public", migrations_from_bundle({"1_conc": script}))
    assert outcome.failure.sqlstate == "25001"
    assert not table_exists(conn, "t")


def test_single_concurrently_statement_runs(conn):
    deploy(conn, "public", migrations_from_bundle({"1_t": "CREATE TABLE t (id int);"}))
    outcome = deploy(conn, "public", migrations_from_bundle({"1_t": "CREATE TABLE t (id int);", "2_i": "CREATE INDEX CONCURRENTLY t_id ON t (id);"}))
    assert outcome.succeeded


def test_crlf_file_is_applied_and_its_checksum_is_the_raw_text(conn, write_migrations):
    base = write_migrations({"1_crlf": b'CREATE TABLE "Crlf" ("id" INT);\r\nSELECT 1;\r\n'})
    local = read_migrations_directory(base)
    assert deploy(conn, "public", local).succeeded
    assert history_rows(conn)[0]["checksum"] == render_checksum('CREATE TABLE "Crlf" ("id" INT);\r\nSELECT 1;\r\n')


def test_mixed_case_and_hyphenated_names_apply_in_prisma_order(conn, write_migrations):
    names = ["20240101_b-two", "20240101_B", "20240101_a", "20240101-c", "20240101_A-one"]
    base = write_migrations({name: f'CREATE TABLE "{name}" (id int);' for name in names})
    outcome = deploy(conn, "public", read_migrations_directory(base))
    # The order `names.sort((a, b) => a.localeCompare(b))` gives in Node.
    expected = ["20240101_a", "20240101_A-one", "20240101_B", "20240101_b-two", "20240101-c"]
    assert outcome.applied == expected
    assert [row["migration_name"] for row in history_rows(conn)] == expected


def test_waits_for_the_advisory_lock_and_names_the_holder(conn, scratch_db):
    with lock_held_elsewhere(scratch_db.conninfo, "prisma-migrate") as pid, pytest.raises(AdvisoryLockTimeout) as raised:
        deploy(conn, "public", migrations_from_bundle({"1_init": INIT}), lock_wait=0.3)
    assert raised.value.holder.pid == pid
    assert f"pid {pid} (prisma-migrate)" in raised.value.message
    assert not table_exists(conn, "_prisma_migrations")


def test_deploy_holds_the_advisory_lock_while_it_runs(conn, scratch_db):
    seen = []

    def watch():
        time.sleep(0.3)
        with psycopg.connect(scratch_db.conninfo, autocommit=True) as watcher:
            seen.append(find_lock_holder(watcher))

    watcher = threading.Thread(target=watch)
    watcher.start()
    deploy(conn, "public", migrations_from_bundle({"1_slow": "SELECT pg_sleep(1);"}))
    watcher.join()
    assert seen[0] is not None and seen[0].pid == conn.info.backend_pid
    assert find_lock_holder(conn) is None


def test_an_error_inside_the_files_own_transaction_is_recorded_with_its_own_sqlstate(conn):
    """Not 25P02: the session's timeouts are put back only once the file's aborted transaction ended."""
    local = migrations_from_bundle(
        {
            "20240101_init": 'CREATE TABLE "Patient" ("id" INT);\n',
            "20240102_dup": 'BEGIN;\nALTER TABLE "Patient" ADD COLUMN "id" INT;\nCOMMIT;\n',
        }
    )
    outcome = deploy(conn, "public", local, timeouts=SessionTimeouts(lock_timeout_ms=1234))
    assert (outcome.failure.migration_name, outcome.failure.sqlstate) == ("20240102_dup", "42701")
    assert "Database error code: 42701" in outcome.failure.logs
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"
