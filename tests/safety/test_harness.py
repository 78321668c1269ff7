"""The suite's own instruments, checked against situations whose answer is known.

A matrix that passes everywhere proves something only if its checks can fail: these tests show
the audit catches a write under another session's Prisma lock without changing what it watches,
and that the invariant checks reject a target that is not what the replay says.
"""

from __future__ import annotations

import psycopg
import pytest

from service.jobs.states import Verdict
from service.prisma import history
from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID, advisory_lock
from tests.safety.cases import Case, plan_cases
from tests.safety.corpus import corpus_replay
from tests.safety.harness import Outcome, target_fingerprint
from tests.safety.invariants import (
    blocked_leaves_target_as_before,
    no_write_under_prisma_lock,
    proceed_matches_replay,
)
from tests.safety.oracle import AUDIT_SCHEMA, install_audit, server_time, writes_since

pytestmark = pytest.mark.safety


@pytest.fixture
def audited(scratch_db):
    with scratch_db.connect() as conn:
        history.create_table(conn, "public")
        conn.execute('CREATE TABLE "Order" ("id" TEXT PRIMARY KEY, "status" TEXT)')
        conn.execute('CREATE INDEX "Order_status_idx" ON "Order" ("status")')
        install_audit(conn)
        yield scratch_db, conn


def test_the_audit_flags_writes_made_while_another_session_holds_prismas_lock(audited):
    database, conn = audited
    since = server_time(conn)
    with psycopg.connect(database.conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        holder = other.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ('1', 'x', '1_a')")
        conn.execute('ALTER TABLE "Order" ADD COLUMN "note" TEXT')
    with advisory_lock(conn):
        conn.execute('DROP INDEX "Order_status_idx"')

    writes = writes_since(conn, since)
    assert [(write.what, write.prisma_lock_holder) for write in writes] == [
        ("INSERT history row of 1_a", holder),
        ('ALTER TABLE public."Order"', holder),
        ('DROP index public."Order_status_idx"', None),
    ]


def test_the_audit_lets_drop_index_concurrently_run(audited):
    _, conn = audited
    conn.execute('DROP INDEX CONCURRENTLY "Order_status_idx"')
    assert not conn.execute("SELECT to_regclass('\"Order_status_idx\"')").fetchone()[0]


def test_the_audit_schema_is_left_out_of_the_targets_fingerprint(audited):
    _, conn = audited
    fingerprint = target_fingerprint(conn)
    assert AUDIT_SCHEMA not in fingerprint.schemas
    assert all(key[0] != AUDIT_SCHEMA for key in fingerprint.objects["functions"])
    assert ("public", "Order") in fingerprint.objects["tables"]


def _outcome(case: Case, **evidence) -> Outcome:
    return Outcome(case, settled=True, **evidence)


def test_proceed_with_a_migrations_objects_missing_is_caught():
    replay = corpus_replay()
    step = replay.steps["03_add_patient_contact_fields"]
    outcome = _outcome(
        Case(step.name, "none", "", "no-shadow"),
        verdict=Verdict.PROCEED.value,
        applied_before=step.history,
        applied_after=(*step.history, step.name),
        after=step.before,
    )
    with pytest.raises(AssertionError) as caught:
        proceed_matches_replay(outcome, replay)
    assert "03_add_patient_contact_fields: index public.Patient_phone_idx missing" in str(caught.value)


def test_proceed_with_an_invalid_index_is_caught():
    replay = corpus_replay()
    step = replay.steps["16_order_status_index_concurrently"]
    outcome = _outcome(
        Case(step.name, "none", "", "no-shadow"),
        verdict=Verdict.PROCEED.value,
        applied_before=step.history,
        applied_after=(*step.history, step.name),
        after=step.after,
        unusable_indexes=['"Order_status_createdAt_idx" (valid: False, ready: True)'],
    )
    with pytest.raises(AssertionError, match="unusable index left on the target"):
        proceed_matches_replay(outcome, replay)


def test_blocked_with_the_target_changed_is_caught():
    replay = corpus_replay()
    step = replay.steps["19_order_item_line_totals"]
    outcome = _outcome(
        Case(step.name, "none", "", "no-shadow"),
        verdict=Verdict.BLOCKED.value,
        before=step.after,
        after=step.before,
        migration_state="rolled_back",
    )
    with pytest.raises(AssertionError, match="the target differs from before the deploy: column public.OrderItem.lineTotalCents missing"):
        blocked_leaves_target_as_before(outcome, replay)


def test_a_prisma_lock_case_that_never_took_the_lock_is_caught():
    case = next(case for case in plan_cases(corpus_replay()) if case.prisma_lock)
    with pytest.raises(AssertionError, match="never took Prisma's lock"):
        no_write_under_prisma_lock(_outcome(case), corpus_replay())
