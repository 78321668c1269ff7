"""deploy-gate and the real Prisma CLI (6.19.3, WebAssembly engine) agree on the history.

Each test arranges a history with one tool and reads or continues it with the other. The
WebAssembly engine splits scripts on `;`, so scripts here are ones where that makes no difference.
"""

from __future__ import annotations

import json
import random
import re
import string
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.prisma.deploy import deploy
from service.prisma.errors import (
    AdvisoryLockTimeout,
    CannotRollBackSucceededMigration,
    CannotRollBackUnappliedMigration,
    DatabaseSchemaNotEmpty,
    FoundFailedMigrations,
    MigrationAlreadyApplied,
    MigrationFileNotFound,
    MigrationToMarkAppliedNotFound,
    ProviderSwitched,
)
from service.prisma.lock import advisory_lock
from service.prisma.migrations import read_migrations_directory, sort_in_prisma_order
from service.prisma.resolve import resolve_applied, resolve_rolled_back
from service.prisma.status import MigrationState, read_status
from tests.interop.prisma_cli import prisma_env, run_prisma
from tests.service.prisma.history_helpers import history_rows

pytestmark = pytest.mark.interop

A = 'CREATE TABLE "A" ("id" INT);\n'
B = 'CREATE TABLE "B" ("id" INT);\n'
C = 'CREATE TABLE "C" ("id" INT);\n'
FAILS = 'CREATE TABLE "A" ("id" INT);\n'  # after A: 42P07


@dataclass
class PrismaStatus:
    exit_code: int
    unapplied: list[str]
    failed: list[str]
    unpersisted: list[str]
    last_common: str | None
    up_to_date: bool
    unmanaged: bool


def _names_after(text: str, header: str) -> list[str]:
    match = re.search(re.escape(header) + r"\n((?:[^\n]+\n?)*)", text)
    return match.group(1).split() if match else []


def prisma_status(url, migrations_dir) -> PrismaStatus:
    result = run_prisma(["migrate", "status"], url, migrations_dir)
    text = result.stdout + "\n" + result.stderr
    last_common = re.search(r"The last common migration is: (\S+)", text)
    return PrismaStatus(
        exit_code=result.returncode,
        unapplied=_names_after(text, "have not yet been applied:"),
        failed=_names_after(text, "have failed:"),
        unpersisted=_names_after(text, "are not found locally in prisma/migrations:"),
        # Prisma prints a missing last common migration as the word null.
        last_common=last_common.group(1) if last_common and last_common.group(1) != "null" else None,
        up_to_date="Database schema is up to date!" in text,
        unmanaged="not managed by Prisma Migrate" in text,
    )


def assert_status_agrees(conn, url, migrations_dir, schema="public"):
    """Prisma's status and ours report the same classes and the same exit code."""
    theirs = prisma_status(url, migrations_dir)
    ours = read_status(conn, schema, read_migrations_directory(migrations_dir))
    assert ours.exit_code == theirs.exit_code, (ours.to_dict(), theirs)
    assert ours.up_to_date == theirs.up_to_date
    if ours.history_diagnostic == "databaseIsBehind":
        assert list(ours.unapplied) == theirs.unapplied
    if ours.history_diagnostic == "historiesDiverge":
        assert list(ours.unapplied) == theirs.unapplied
        assert list(ours.unpersisted) == theirs.unpersisted
        assert ours.last_common_migration == theirs.last_common
    elif ours.has_migrations_table:
        assert list(ours.failed) == theirs.failed
    return ours, theirs


def prisma(args, url, migrations_dir):
    return run_prisma(args, url, migrations_dir)


@pytest.fixture
def url(scratch_db):
    return scratch_db.url


def test_empty_database_and_empty_directory(conn, url, write_migrations):
    base = write_migrations({})
    ours, theirs = assert_status_agrees(conn, url, base)
    assert theirs.unmanaged and ours.exit_code == 1


def test_pending_on_a_fresh_database(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_b": B})
    ours, theirs = assert_status_agrees(conn, url, base)
    assert theirs.unapplied == ["1_a", "2_b"]


def test_after_our_deploy_prisma_sees_up_to_date_and_deploys_nothing(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_b": B})
    deploy(conn, "public", read_migrations_directory(base))
    ours, theirs = assert_status_agrees(conn, url, base)
    assert theirs.up_to_date
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 0, result.stderr
    assert "No pending migrations to apply." in result.stdout
    assert len(history_rows(conn)) == 2


def test_after_prismas_deploy_we_see_up_to_date_with_the_same_checksums(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_b": B})
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 0, result.stderr
    ours, _ = assert_status_agrees(conn, url, base)
    assert ours.names_in(MigrationState.APPLIED) == ["1_a", "2_b"]
    assert deploy(conn, "public", read_migrations_directory(base)).applied == []
    local = read_migrations_directory(base)
    assert [row["checksum"] for row in history_rows(conn)] == [m.checksum for m in local]


def test_pending_after_partial_deploy_then_each_tool_finishes(conn, url, write_migrations):
    base = write_migrations({"1_a": A})
    deploy(conn, "public", read_migrations_directory(base))
    write_migrations({"2_b": B}, directory=base)
    ours, theirs = assert_status_agrees(conn, url, base)
    assert theirs.unapplied == ["2_b"] == ours.to_deploy
    assert prisma(["migrate", "deploy"], url, base).returncode == 0
    write_migrations({"3_c": C}, directory=base)
    assert deploy(conn, "public", read_migrations_directory(base)).applied == ["3_c"]
    assert assert_status_agrees(conn, url, base)[1].up_to_date


def test_our_failed_migration_is_failed_for_prisma_and_blocks_its_deploy(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS})
    outcome = deploy(conn, "public", read_migrations_directory(base))
    assert outcome.failure.sqlstate == "42P07"
    ours, theirs = assert_status_agrees(conn, url, base)
    assert theirs.failed == ["2_fail"]
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 1
    assert "P3009" in result.stderr and "`2_fail`" in result.stderr


def test_prismas_failed_migration_is_failed_for_us_with_its_message(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS})
    assert prisma(["migrate", "deploy"], url, base).returncode == 1
    ours, theirs = assert_status_agrees(conn, url, base)
    failed = ours.get("2_fail")
    assert failed.state is MigrationState.FAILED
    assert failed.failure.message == 'relation "A" already exists'
    with pytest.raises(FoundFailedMigrations):
        deploy(conn, "public", read_migrations_directory(base))


def test_we_mark_rolled_back_and_prisma_reapplies(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS})
    deploy(conn, "public", read_migrations_directory(base))
    resolve_rolled_back(conn, "public", "2_fail")
    assert assert_status_agrees(conn, url, base)[1].up_to_date
    write_migrations({"2_fail": B}, directory=base)
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 0, result.stderr
    assert "2_fail" in result.stdout
    ours, _ = assert_status_agrees(conn, url, base)
    assert ours.get("2_fail").state is MigrationState.REAPPLIED


def test_prisma_marks_rolled_back_and_we_reapply(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS})
    prisma(["migrate", "deploy"], url, base)
    result = prisma(["migrate", "resolve", "--rolled-back", "2_fail"], url, base)
    assert result.returncode == 0, result.stderr
    ours, theirs = assert_status_agrees(conn, url, base)
    assert ours.get("2_fail").state is MigrationState.ROLLED_BACK and theirs.up_to_date
    write_migrations({"2_fail": B}, directory=base)
    assert deploy(conn, "public", read_migrations_directory(base)).applied == ["2_fail"]
    assert assert_status_agrees(conn, url, base)[1].up_to_date


def test_our_resolve_applied_is_applied_for_prisma(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS, "3_c": C})
    deploy(conn, "public", read_migrations_directory(base))
    resolve_applied(conn, "public", read_migrations_directory(base), "2_fail")
    theirs = prisma_status(url, base)
    assert theirs.unapplied == ["3_c"]
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 0, result.stderr
    assert "3_c" in result.stdout and "2_fail" not in result.stdout.split("applied:")[-1]
    assert assert_status_agrees(conn, url, base)[1].up_to_date


def test_prismas_resolve_applied_is_applied_for_us(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_fail": FAILS})
    prisma(["migrate", "deploy"], url, base)
    assert prisma(["migrate", "resolve", "--applied", "2_fail"], url, base).returncode == 0
    ours, _ = assert_status_agrees(conn, url, base)
    assert ours.get("2_fail").state is MigrationState.REAPPLIED
    failed_row, prisma_row = [row for row in history_rows(conn) if row["migration_name"] == "2_fail"]
    assert failed_row["rolled_back_at"] is not None

    # Our resolve --applied writes the row Prisma writes.
    conn.execute("DELETE FROM _prisma_migrations WHERE id = %s", (prisma_row["id"],))
    conn.execute("UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE id = %s", (failed_row["id"],))
    resolve_applied(conn, "public", read_migrations_directory(base), "2_fail")
    our_row = history_rows(conn)[-1]
    assert row_shape(our_row) == row_shape(prisma_row)


def row_shape(row):
    return {
        "checksum": row["checksum"],
        "logs": row["logs"],
        "applied_steps_count": row["applied_steps_count"],
        "finished": row["finished_at"] is not None,
        "started_is_finished": row["started_at"] == row["finished_at"],
        "rolled_back": row["rolled_back_at"] is not None,
    }


def test_missing_locally_and_diverging_histories(conn, url, write_migrations, tmp_path):
    base = write_migrations({"1_a": A, "2_b": B})
    deploy(conn, "public", read_migrations_directory(base))
    only_first = write_migrations({"1_a": A}, directory=tmp_path / "first")
    ours, theirs = assert_status_agrees(conn, url, only_first)
    assert ours.get("2_b").state is MigrationState.MISSING_LOCALLY and theirs.up_to_date
    diverged = write_migrations({"1_a": A, "3_c": C}, directory=tmp_path / "diverged")
    ours, theirs = assert_status_agrees(conn, url, diverged)
    assert theirs.unpersisted == ["2_b"] and theirs.unapplied == ["3_c"]


def test_edited_migration_does_not_fail_either_status(conn, url, write_migrations):
    base = write_migrations({"1_a": A})
    deploy(conn, "public", read_migrations_directory(base))
    write_migrations({"1_a": A + "-- edited\n"}, directory=base)
    ours, theirs = assert_status_agrees(conn, url, base)
    assert ours.get("1_a").edited and theirs.up_to_date


def test_folder_order_mixed_case_and_hyphens(conn, url, write_migrations, scratch_db):
    names = ["20240101_b-two", "20240101_B", "20240101_a", "20240101-c", "20240101_A-one", "2024_x"]
    base = write_migrations({name: f'CREATE TABLE "{name}" ("id" INT);\n' for name in names})
    assert prisma(["migrate", "deploy"], url, base).returncode == 0
    prisma_order = [row["migration_name"] for row in history_rows(conn)]
    assert read_migrations_directory(base).names == prisma_order


def test_crlf_file_checksums_and_line_ending_changes(conn, url, write_migrations):
    base = write_migrations({"1_crlf": b'CREATE TABLE "Crlf" ("id" INT);\r\n'})
    assert prisma(["migrate", "deploy"], url, base).returncode == 0
    assert history_rows(conn)[0]["checksum"] == read_migrations_directory(base).get("1_crlf").checksum
    write_migrations({"1_crlf": b'CREATE TABLE "Crlf" ("id" INT);\n'}, directory=base)
    ours, theirs = assert_status_agrees(conn, url, base)
    assert not ours.get("1_crlf").edited and theirs.up_to_date


def test_p3005_tables_without_history(conn, url, write_migrations):
    conn.execute('CREATE TABLE "Legacy" ("id" INT)')
    base = write_migrations({"1_a": A})
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 1 and "P3005" in result.stderr
    with pytest.raises(DatabaseSchemaNotEmpty):
        deploy(conn, "public", read_migrations_directory(base))


def test_p3019_provider_mismatch(conn, url, write_migrations):
    base = write_migrations({"1_a": A}, provider="mysql")
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 1 and "P3019" in result.stderr
    with pytest.raises(ProviderSwitched):
        deploy(conn, "public", read_migrations_directory(base))


def test_p3015_folder_without_migration_file(conn, url, write_migrations):
    base = write_migrations({"1_a": A, "2_empty": None})
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 1 and "P3015" in result.stderr
    with pytest.raises(MigrationFileNotFound):
        read_migrations_directory(base)


@pytest.mark.parametrize(
    "args, code, error, call",
    [
        (["--rolled-back", "9_none"], "P3011", CannotRollBackUnappliedMigration, lambda c, local: resolve_rolled_back(c, "public", "9_none")),
        (["--rolled-back", "1_a"], "P3012", CannotRollBackSucceededMigration, lambda c, local: resolve_rolled_back(c, "public", "1_a")),
        (["--applied", "1_a"], "P3008", MigrationAlreadyApplied, lambda c, local: resolve_applied(c, "public", local, "1_a")),
        (["--applied", "9_none"], "P3017", MigrationToMarkAppliedNotFound, lambda c, local: resolve_applied(c, "public", local, "9_none")),
    ],
)
def test_resolve_preconditions_agree(conn, url, write_migrations, args, code, error, call):
    base = write_migrations({"1_a": A})
    deploy(conn, "public", read_migrations_directory(base))
    before = history_rows(conn)
    result = prisma(["migrate", "resolve", *args], url, base)
    assert result.returncode == 1 and code in result.stderr, result.stderr
    with pytest.raises(error) as raised:
        call(conn, read_migrations_directory(base))
    assert raised.value.code == code
    assert history_rows(conn) == before


def test_named_schema(scratch_db, write_migrations):
    scratch_db.query('CREATE SCHEMA "tenant"')
    url = scratch_db.url + "?schema=tenant"
    base = write_migrations({"1_a": A, "2_b": B})
    with scratch_db.connect(schema="tenant") as conn:
        assert prisma(["migrate", "deploy"], url, base).returncode == 0
        ours, theirs = assert_status_agrees(conn, url, base, schema="tenant")
        assert ours.names_in(MigrationState.APPLIED) == ["1_a", "2_b"] and theirs.up_to_date


def node_locale_sorted(names: list[str]) -> list[str]:
    """The order Prisma's listMigrations gives: Array.sort with String.prototype.localeCompare."""
    script = "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{const n=JSON.parse(d);n.sort((a,b)=>a.localeCompare(b));process.stdout.write(JSON.stringify(n))})"
    env = prisma_env("postgresql://unused", Path("."))
    result = subprocess.run(["node", "-e", script], input=json.dumps(names), capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "alphabet",
    [
        string.ascii_letters + string.digits + "_-. ",
        string.ascii_letters + string.digits + "_-.éÉèßÄäöÖåÅøæñçıłœ",
    ],
    ids=["ascii", "latin"],
)
def test_folder_order_matches_node_locale_compare(alphabet):
    generator = random.Random(11)
    names = sorted({"".join(generator.choice(alphabet) for _ in range(generator.randint(1, 10))) for _ in range(3000)})
    assert sort_in_prisma_order(names) == node_locale_sorted(names)


def test_views_sequences_and_enums_alone_are_an_empty_schema_for_both(conn, url, write_migrations, tmp_path):
    conn.execute("CREATE VIEW v AS SELECT 1 AS x; CREATE SEQUENCE s; CREATE TYPE mood AS ENUM ('ok')")
    base = write_migrations({"1_a": A})
    result = prisma(["migrate", "deploy"], url, base)
    assert result.returncode == 0, result.stderr
    conn.execute('DROP TABLE _prisma_migrations; DROP TABLE "A"')
    assert deploy(conn, "public", read_migrations_directory(base)).applied == ["1_a"]


def test_diverging_from_the_first_migration_has_no_common_migration(conn, url, write_migrations, tmp_path):
    base = write_migrations({"1_a": A})
    deploy(conn, "public", read_migrations_directory(base))
    other = write_migrations({"0_other": B}, directory=tmp_path / "other")
    ours, theirs = assert_status_agrees(conn, url, other)
    assert ours.history_diagnostic == "historiesDiverge" and theirs.last_common is None


def test_prisma_waits_for_our_lock(conn, url, write_migrations):
    base = write_migrations({"1_a": A})

    def hold_then_release():
        with advisory_lock(conn):
            held.set()
            time.sleep(2)

    held = threading.Event()
    holder = threading.Thread(target=hold_then_release)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    result = prisma(["migrate", "deploy"], url, base)
    waited = time.monotonic() - started
    holder.join()
    assert result.returncode == 0, result.stderr
    assert waited >= 1.5
    assert [row["migration_name"] for row in history_rows(conn)] == ["1_a"]


def test_we_wait_for_prismas_lock_and_name_it(conn, url, write_migrations, scratch_db):
    base = write_migrations({"1_slow": "SELECT pg_sleep(4);\n"})
    runner = threading.Thread(target=lambda: outcomes.append(prisma(["migrate", "deploy"], url, base)))
    outcomes = []
    runner.start()
    holder = None
    deadline = time.monotonic() + 10
    while holder is None and time.monotonic() < deadline:
        holder = read_status(conn, "public", read_migrations_directory(base)).lock_holder
        time.sleep(0.1)
    assert holder is not None, "Prisma's deploy never took the lock"
    with pytest.raises(AdvisoryLockTimeout) as raised:
        deploy(conn, "public", read_migrations_directory(base), lock_wait=0.5)
    runner.join()
    assert raised.value.holder.pid == holder.pid
    assert outcomes[0].returncode == 0, outcomes[0].stderr
    assert read_status(conn, "public", read_migrations_directory(base)).up_to_date
