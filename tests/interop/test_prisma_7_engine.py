"""deploy-gate and the schema engine Prisma 7.10.1 pins (d1b3f377) agree on the history.

The engine is its WebAssembly build (tests/interop/prisma7_engine.py says why and what it can show).
Each test arranges a history with one and reads or continues it with the other, on a scratch
database, for each thing the issue asks to verify: the table, the checksums, lock 72707369 and
its timeout, resolve's preconditions and the error codes. Places in the pinned engine, from the
spans its build carries: schema-engine/commands/src/commands/apply_migrations.rs:95 ("Applying
migration": the row, then the script), schema-engine/connectors/sql-schema-connector/src/apply_migration.rs:113
(`apply_script`), schema-engine/commands/src/commands/mark_migration_rolled_back.rs:47.
"""

from __future__ import annotations

import time

import pytest

from service.prisma.deploy import deploy
from service.prisma.lock import advisory_lock
from service.prisma.migrations import read_migrations_directory, render_checksum
from service.prisma.resolve import resolve_rolled_back
from service.prisma.status import MigrationState, read_status
from tests.interop.prisma7_engine import PINNED_ENGINES_COMMIT, run_engine
from tests.service.prisma.history_helpers import history_rows

pytestmark = pytest.mark.interop

A = 'CREATE TABLE "A" ("id" INT);\n'
B = 'CREATE TABLE "B" ("id" INT);\n'
FAILS = 'CREATE TABLE "A" ("id" INT);\n'  # after A: 42P07, one statement


def test_the_oracle_is_the_pinned_engine(scratch_db, write_migrations):
    assert run_engine("version", scratch_db.url, write_migrations({"1_a": A})) == {"ok": PINNED_ENGINES_COMMIT}


def test_the_engines_history_is_what_deploy_gate_writes(scratch_db, write_migrations):
    """Table, checksums, row fields: the engine applies; deploy-gate reads it as up to date, and the reverse."""
    base = write_migrations({"1_a": A, "2_b": B})
    assert run_engine("apply", scratch_db.url, base) == {"ok": {"appliedMigrationNames": ["1_a", "2_b"]}}
    local = read_migrations_directory(base)
    with scratch_db.connect() as conn:
        rows = history_rows(conn)
        assert [(r["migration_name"], r["checksum"], r["applied_steps_count"], r["logs"], r["rolled_back_at"]) for r in rows] == [
            ("1_a", render_checksum(A), 1, None, None),
            ("2_b", render_checksum(B), 1, None, None),
        ]
        assert all(r["finished_at"] is not None for r in rows)
        status = read_status(conn, "public", local)
        assert status.exit_code == 0 and [m.state for m in status.migrations] == [MigrationState.APPLIED] * 2
        assert deploy(conn, "public", local, prisma_version=7).applied == []


def test_a_history_deploy_gate_wrote_is_the_engines_with_a_failed_row_refusing_deploy(scratch_db, write_migrations):
    """deploy-gate (as Prisma 7) applies 1_a and fails 2_fails: the engine sees the failed row (P3009)."""
    base = write_migrations({"1_a": A, "2_fails": FAILS})
    with scratch_db.connect() as conn:
        outcome = deploy(conn, "public", read_migrations_directory(base), prisma_version=7)
    assert outcome.failure is not None and outcome.failure.sqlstate == "42P07"
    assert run_engine("diagnose", scratch_db.url, base)["ok"]["failedMigrationNames"] == ["2_fails"]
    assert run_engine("apply", scratch_db.url, base)["error"]["code"] == "P3009"


def test_resolve_preconditions_are_the_engines(scratch_db, write_migrations):
    """P3011 (never applied), P3012 (not failed), P3008 (already applied); rolling back a failed row
    twice is accepted; what the engine marks, deploy-gate reads."""
    base = write_migrations({"1_a": A, "2_fails": FAILS})
    with scratch_db.connect() as conn:
        deploy(conn, "public", read_migrations_directory(base), prisma_version=7)
    assert run_engine("rolled-back", scratch_db.url, base, "9_nope")["error"]["code"] == "P3011"
    assert run_engine("rolled-back", scratch_db.url, base, "1_a")["error"]["code"] == "P3012"
    assert run_engine("applied", scratch_db.url, base, "1_a")["error"]["code"] == "P3008"
    assert run_engine("rolled-back", scratch_db.url, base, "2_fails") == {"ok": {}}
    with scratch_db.connect() as conn:
        resolve_rolled_back(conn, "public", "2_fails")  # deploy-gate accepts the second one too, as the engine does
        states = {m.name: m.state for m in read_status(conn, "public", read_migrations_directory(base)).migrations}
    assert states == {"1_a": MigrationState.APPLIED, "2_fails": MigrationState.ROLLED_BACK}
    assert run_engine("rolled-back", scratch_db.url, base, "2_fails") == {"ok": {}}


def test_the_engine_waits_10_s_for_lock_72707369_then_gives_up_with_p1002(scratch_db, write_migrations):
    """deploy-gate holds the lock: the engine gives up after its ADVISORY_LOCK_TIMEOUT, 10 s."""
    base = write_migrations({"1_a": A})
    with scratch_db.connect() as conn, advisory_lock(conn, 1.0):
        started = time.monotonic()
        answer = run_engine("apply", scratch_db.url, base)
        waited = time.monotonic() - started
    assert answer["error"]["code"] == "P1002"
    assert 9.5 <= waited <= 20
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('_prisma_migrations')").fetchone() == (None,)
