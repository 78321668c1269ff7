import pytest

from service.prisma.deploy import deploy
from service.prisma.errors import (
    AdvisoryLockTimeout,
    CannotRollBackSucceededMigration,
    CannotRollBackUnappliedMigration,
    MigrationAlreadyApplied,
    MigrationToMarkAppliedNotFound,
    NoMigrationsTable,
    ProviderSwitched,
)
from service.prisma.migrations import migrations_from_bundle, render_checksum
from service.prisma.resolve import resolve_applied, resolve_rolled_back
from tests.service.prisma.history_helpers import history_rows, lock_held_elsewhere, release_after

INIT = "CREATE TABLE a (id int);"
FAILS = "CREATE TABLE a (id int);"  # applied after INIT: duplicate table, 42P07


@pytest.fixture
def failed_history(conn):
    """1_init applied, 2_fail failed."""
    local = migrations_from_bundle({"1_init": INIT, "2_fail": FAILS})
    deploy(conn, "public", local)
    return local


def test_rolled_back_marks_only_the_failed_rows(conn, failed_history):
    ids = resolve_rolled_back(conn, "public", "2_fail")
    rows = {row["migration_name"]: row for row in history_rows(conn)}
    assert ids == [rows["2_fail"]["id"]]
    assert rows["2_fail"]["rolled_back_at"] is not None
    assert rows["2_fail"]["finished_at"] is None
    assert rows["1_init"]["rolled_back_at"] is None


def test_rolled_back_with_no_row_is_p3011(conn, failed_history):
    with pytest.raises(CannotRollBackUnappliedMigration) as raised:
        resolve_rolled_back(conn, "public", "9_unknown")
    assert raised.value.code == "P3011"


def test_rolled_back_of_a_succeeded_migration_is_p3012(conn, failed_history):
    with pytest.raises(CannotRollBackSucceededMigration) as raised:
        resolve_rolled_back(conn, "public", "1_init")
    assert raised.value.code == "P3012"
    assert all(row["rolled_back_at"] is None for row in history_rows(conn) if row["migration_name"] == "1_init")


def test_rolled_back_twice_changes_nothing_the_second_time(conn, failed_history):
    resolve_rolled_back(conn, "public", "2_fail")
    before = history_rows(conn)
    assert resolve_rolled_back(conn, "public", "2_fail") == []
    assert history_rows(conn) == before


def test_rolled_back_without_history_table_is_a_clear_error(conn):
    with pytest.raises(NoMigrationsTable, match="no _prisma_migrations table"):
        resolve_rolled_back(conn, "public", "1_init")


def test_applied_marks_failed_rows_rolled_back_and_inserts_a_finished_row(conn, failed_history):
    new_id = resolve_applied(conn, "public", failed_history, "2_fail")
    rows = [row for row in history_rows(conn) if row["migration_name"] == "2_fail"]
    assert len(rows) == 2
    assert rows[0]["rolled_back_at"] is not None
    inserted = next(row for row in rows if row["id"] == new_id)
    assert inserted["finished_at"] == inserted["started_at"]
    assert inserted["applied_steps_count"] == 0
    assert inserted["logs"] == ""
    assert inserted["rolled_back_at"] is None
    assert inserted["checksum"] == render_checksum(FAILS)


def test_applied_needs_the_local_migration_p3017(conn, failed_history):
    with pytest.raises(MigrationToMarkAppliedNotFound) as raised:
        resolve_applied(conn, "public", failed_history, "3_missing")
    assert raised.value.code == "P3017"


def test_applied_when_already_finished_is_p3008(conn, failed_history):
    with pytest.raises(MigrationAlreadyApplied) as raised:
        resolve_applied(conn, "public", failed_history, "1_init")
    assert raised.value.code == "P3008"


def test_applied_counts_a_finished_row_even_if_rolled_back(conn, failed_history):
    # A succeeded migration recorded as rolled back (seed scenario 2) still has a finished row.
    conn.execute("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '1_init'")
    with pytest.raises(MigrationAlreadyApplied):
        resolve_applied(conn, "public", failed_history, "1_init")


def test_applied_baselines_a_database_without_history(conn):
    conn.execute("CREATE TABLE a (id int)")
    local = migrations_from_bundle({"1_init": INIT, "2_next": "CREATE TABLE b (id int);"})
    resolve_applied(conn, "public", local, "1_init")
    assert [row["migration_name"] for row in history_rows(conn)] == ["1_init"]
    assert deploy(conn, "public", local).applied == ["2_next"]


def test_applied_checks_the_provider(conn):
    local = migrations_from_bundle({"1_init": INIT}, 'provider = "mysql"')
    with pytest.raises(ProviderSwitched):
        resolve_applied(conn, "public", local, "1_init")


def test_resolve_waits_for_the_lock_then_fails_naming_the_holder(conn, scratch_db, failed_history):
    with lock_held_elsewhere(scratch_db.conninfo, "prisma-migrate-deploy") as pid, pytest.raises(AdvisoryLockTimeout) as raised:
        resolve_rolled_back(conn, "public", "2_fail", lock_wait=0.2)
    assert raised.value.holder.pid == pid
    assert "prisma-migrate-deploy" in str(raised.value)
    assert all(row["rolled_back_at"] is None for row in history_rows(conn))


def test_resolve_proceeds_once_the_holder_lets_go(conn, scratch_db, failed_history):
    with release_after(scratch_db.conninfo, 0.3):
        assert resolve_rolled_back(conn, "public", "2_fail", lock_wait=5)
