import pytest

from service.prisma.deploy import deploy
from service.prisma.errors import ProviderSwitched
from service.prisma.migrations import migrations_from_bundle, read_migrations_directory
from service.prisma.resolve import resolve_rolled_back
from service.prisma.status import MigrationState, read_status
from tests.service.prisma.history_helpers import lock_held_elsewhere

INIT = 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'
ADD_EMAIL = 'ALTER TABLE "User" ADD COLUMN "email" TEXT;\n'
DUPLICATE = 'CREATE TABLE "User" ("id" INT);\n'


def states(report):
    return {m.name: m.state for m in report.migrations}


def test_no_history_table_means_everything_is_pending(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL})
    report = read_status(conn, "public", local)
    assert not report.has_migrations_table
    assert states(report) == {"1_init": MigrationState.PENDING, "2_email": MigrationState.PENDING}
    assert report.unapplied == ("1_init", "2_email")
    assert report.history_diagnostic == "databaseIsBehind"
    assert report.exit_code == 1


def test_applied_history_is_up_to_date(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL})
    deploy(conn, "public", local)
    report = read_status(conn, "public", local)
    assert states(report) == {"1_init": MigrationState.APPLIED, "2_email": MigrationState.APPLIED}
    assert report.up_to_date and report.exit_code == 0
    assert report.to_deploy == []


def test_new_local_migration_is_pending(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    report = read_status(conn, "public", migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL}))
    assert states(report)["2_email"] is MigrationState.PENDING
    assert report.to_deploy == ["2_email"]
    assert report.exit_code == 1


def test_failed_migration_carries_its_sqlstate_and_message(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_dup": DUPLICATE})
    deploy(conn, "public", local)
    report = read_status(conn, "public", local)
    failed = report.get("2_dup")
    assert failed.state is MigrationState.FAILED
    assert failed.failure.sqlstate == "42P07"
    assert failed.failure.message == 'relation "User" already exists'
    assert report.failed == ("2_dup",)
    assert report.exit_code == 1


def test_rolled_back_migration_is_due_again_but_prisma_calls_it_up_to_date(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_dup": DUPLICATE})
    deploy(conn, "public", local)
    resolve_rolled_back(conn, "public", "2_dup")
    report = read_status(conn, "public", local)
    assert report.get("2_dup").state is MigrationState.ROLLED_BACK
    assert report.to_deploy == ["2_dup"]
    # Prisma's status only counts names with no row at all as unapplied.
    assert report.unapplied == () and report.failed == ()
    assert report.exit_code == 0


def test_rolled_back_then_fixed_and_applied_is_reapplied_and_counts_as_edited(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_email": DUPLICATE}))
    resolve_rolled_back(conn, "public", "2_email")
    fixed = migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL})
    assert deploy(conn, "public", fixed).applied == ["2_email"]
    report = read_status(conn, "public", fixed)
    migration = report.get("2_email")
    assert migration.state is MigrationState.REAPPLIED
    assert len(migration.rows) == 2
    # Prisma compares the file with the first row of the name: the failed attempt's checksum.
    assert migration.edited and report.edited == ("2_email",)
    assert report.exit_code == 0


def test_edited_after_apply(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    edited = migrations_from_bundle({"1_init": INIT + "-- changed\n"})
    report = read_status(conn, "public", edited)
    assert report.get("1_init").edited
    assert report.get("1_init").state is MigrationState.APPLIED
    assert report.edited == ("1_init",)


def test_line_ending_change_is_not_an_edit(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT}))
    report = read_status(conn, "public", migrations_from_bundle({"1_init": INIT.replace("\n", "\r\n")}))
    assert not report.get("1_init").edited


def test_in_database_but_missing_locally(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL}))
    local = migrations_from_bundle({"1_init": INIT, "3_new": "SELECT 1;"})
    report = read_status(conn, "public", local)
    missing = report.get("2_email")
    assert missing.state is MigrationState.MISSING_LOCALLY
    assert missing.history_state is MigrationState.APPLIED
    assert not missing.in_directory
    assert report.unpersisted == ("2_email",)
    assert report.history_diagnostic == "historiesDiverge"
    assert report.last_common_migration == "1_init"
    assert report.exit_code == 1


def test_only_missing_locally_does_not_fail_prismas_status(conn):
    deploy(conn, "public", migrations_from_bundle({"1_init": INIT, "2_email": ADD_EMAIL}))
    report = read_status(conn, "public", migrations_from_bundle({"1_init": INIT}))
    assert report.get("2_email").state is MigrationState.MISSING_LOCALLY
    assert report.history_diagnostic == "migrationsDirectoryIsBehind"
    assert report.exit_code == 0


def test_unmanaged_database_with_no_migrations_is_not_up_to_date(conn):
    report = read_status(conn, "public", migrations_from_bundle({}))
    assert report.migrations == ()
    assert report.exit_code == 1


def test_lock_holder_is_reported(conn, scratch_db):
    local = migrations_from_bundle({"1_init": INIT})
    with lock_held_elsewhere(scratch_db.conninfo, "nightly-migrator") as pid:
        report = read_status(conn, "public", local)
    assert report.lock_holder is not None
    assert report.lock_holder.pid == pid
    assert report.lock_holder.application_name == "nightly-migrator"
    assert report.lock_holder.session_started_at is not None
    assert "pg_advisory_lock" in report.lock_holder.query
    assert report.to_dict()["lock_holder"]["pid"] == pid
    assert read_status(conn, "public", local).lock_holder is None


def test_history_in_a_named_schema(scratch_db):
    scratch_db.query('CREATE SCHEMA "App"')
    local = migrations_from_bundle({"1_init": INIT})
    with scratch_db.connect(schema="App") as conn:
        deploy(conn, "App", local)
        assert read_status(conn, "App", local).up_to_date
    assert scratch_db.query("SELECT to_regclass('\"App\"._prisma_migrations') IS NOT NULL")[0][0]
    assert scratch_db.query("SELECT to_regclass('public._prisma_migrations')")[0][0] is None
    assert scratch_db.query('SELECT to_regclass(\'"App"."User"\') IS NOT NULL')[0][0]


def test_provider_mismatch_is_refused(conn, write_migrations):
    local = read_migrations_directory(write_migrations({"1_init": INIT}, provider="sqlite"))
    with pytest.raises(ProviderSwitched):
        read_status(conn, "public", local)


def test_report_serialises_every_class(conn):
    local = migrations_from_bundle({"1_init": INIT, "2_dup": DUPLICATE, "3_later": "SELECT 1;"})
    deploy(conn, "public", local)
    document = read_status(conn, "public", local).to_dict()
    assert document["summary"]["applied"] == ["1_init"]
    assert document["summary"]["failed"] == ["2_dup"]
    assert document["summary"]["pending"] == ["3_later"]
    assert document["prisma"]["exit_code"] == 1
    assert document["migrations"][1]["failure"]["sqlstate"] == "42P07"
