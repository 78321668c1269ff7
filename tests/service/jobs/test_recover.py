"""Recover jobs on real databases with real failures: one test per row of the decision table.

Each test asserts the final history, the catalog, the verdict and the recorded reasons, and that
the real Prisma CLI's `migrate status` agrees with the history deploy-gate leaves.
"""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from service.config.records import Config, Policy, Target
from service.jobs.runner import Deferred, hand_verdict_to_parent, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.database import parse_database_url
from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.interop.prisma_cli import prisma_available
from tests.service.prisma.history_helpers import history_rows

BASE = {
    "20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n',
}


# Fails on every run with a statement timeout (57014, transient), with no session in its way.
TIMES_OUT = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\nSELECT pg_sleep(5);\n'}
STATEMENT_TIMEOUT_MS = 500


def make_config(target_db, **policy) -> Config:
    # A short wait for blocking sessions: a test that keeps a lock held ends in seconds.
    settings = {"lock_timeout_ms": 300, "max_automatic_retries": 1, "retry_wait_seconds": 2, **policy}
    shadow = settings.pop("shadow", None)
    target = Target("staging", parse_database_url(target_db.url), Policy(**settings), shadow=shadow)
    return Config({"staging": target}, ())


def deploy_then_recover(store, config, scripts, *, before_recovery=lambda: None):
    """Apply a bundle with a deploy job; when it fails, run the recover job it started."""
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    deployed = run_job(store, config, job.id)
    assert deployed.state is JobState.RUNNING, deployed.reasons
    child_id = repository.finished_steps(store, job.id)["recover"]["job"]
    before_recovery()
    recovered = run_as_the_task_would(store, config, child_id)
    return repository.get_job(store, job.id), recovered


def run_as_the_task_would(store, config, job_id, max_runs=100):
    """Run a job again after each Deferred's countdown, as the Celery task does, until it stops waiting."""
    for _ in range(max_runs):
        try:
            return run_job(store, config, job_id)
        except Deferred as waiting:
            time.sleep(waiting.seconds)
    pytest.fail(f"job {job_id} was still deferring after {max_runs} runs")


def decision_of(job, round_number=1):
    return job.facts[f"decide:{round_number}"]


def rows_of(target_db, name):
    with target_db.connect() as conn:
        return [row for row in history_rows(conn) if row["migration_name"] == name]


def table_exists(target_db, name):
    return bool(target_db.query("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'r'", (name,)))


def assert_prisma_agrees(target_db, write_migrations, scripts):
    """The real Prisma CLI reads the history we left the same way we do."""
    if not prisma_available():
        if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA") == "1":
            pytest.fail("the Prisma CLI is required (make prisma-cli)")
        pytest.skip("Prisma CLI not installed (make prisma-cli)")
    from tests.interop.test_prisma_interop import assert_status_agrees

    directory = write_migrations(scripts)
    with target_db.connect() as conn:
        assert_status_agrees(conn, target_db.url, directory)


class HeldLock:
    """A transaction in another session holding a table lock, as a long query or a stuck deploy would."""

    def __init__(self, target_db, table, application_name=""):
        self.conn = psycopg.connect(target_db.conninfo, application_name=application_name)
        self.pid = self.conn.info.backend_pid
        self.conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')

    def release(self):
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def applied_base(target_db, store, config):
    digest = repository.store_bundle(store, migrations_from_bundle(BASE))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    assert run_job(store, config, job.id).verdict is Verdict.PROCEED


def test_lock_timeout_is_transient_so_it_is_retried_and_proceeds(store, target_db, write_migrations):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
    lock = HeldLock(target_db, "Patient")
    try:
        deployed, recovered = deploy_then_recover(store, config, scripts, before_recovery=lock.release)
    finally:
        lock.release()

    decision = decision_of(recovered)
    assert decision["action"] == "retry"
    assert recovered.facts["facts:1"]["facts"]["sqlstate"] == "55P03"
    assert recovered.facts["facts:1"]["facts"]["error_class"] == "transient"
    assert recovered.verdict is Verdict.PROCEED and deployed.verdict is Verdict.PROCEED
    assert "the error is transient; retry 1 of 1" in recovered.reasons
    assert "applied: 20240102_add_email" in recovered.reasons
    rows = rows_of(target_db, "20240102_add_email")
    assert [(row["finished_at"] is not None, row["rolled_back_at"] is not None) for row in rows] == [(False, True), (True, False)]
    assert target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_a_lock_held_for_a_moment_is_waited_out_and_the_retry_proceeds(store, target_db, write_migrations):
    config = make_config(target_db, retry_wait_seconds=30)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
    lock = HeldLock(target_db, "Patient", application_name="reporting")
    try:
        digest = repository.store_bundle(store, migrations_from_bundle(scripts))
        job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
        assert run_job(store, config, job.id).state is JobState.RUNNING
        child_id = repository.finished_steps(store, job.id)["recover"]["job"]
        with pytest.raises(Deferred) as deferred:
            run_job(store, config, child_id)
        # The signal that the job waits on the session: its look is in the journal.
        look = repository.finished_steps(store, child_id)["wait_for_blockers:1:1"]
    finally:
        lock.release()

    assert look["outcome"] == "waiting" and look["needs"] == {'"Patient"': ["AccessExclusiveLock"]}
    [blocker] = look["blockers"]
    assert (blocker["pid"], blocker["application_name"], blocker["state"]) == (lock.pid, "reporting", "idle in transaction")
    assert blocker["query"] == 'LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE'
    # The lock was held through the deploy's lock_timeout (300 ms) before the recover job looked.
    assert blocker["transaction_age_seconds"] >= 0.3
    assert blocker["locks"] == [{"relation": '"Patient"', "mode": "AccessExclusiveLock", "granted": True}]
    assert deferred.value.reason.startswith(f'waiting for 1 session holding locks on "Patient": pid {lock.pid} (reporting, idle in transaction)')
    assert 0 <= deferred.value.seconds <= 1.0 and look["next_look_in_seconds"] == deferred.value.seconds
    assert repository.get_job(store, child_id).state is JobState.RUNNING

    recovered = run_as_the_task_would(store, config, child_id)
    steps = repository.finished_steps(store, child_id)
    assert steps["wait_for_blockers:1:2"]["outcome"] == "clear" and steps["wait_for_blockers:1:2"]["blockers"] == []
    assert steps["wait_for_blockers:1:2"]["waited_seconds"] == pytest.approx(steps["wait_for_blockers:1:2"]["looked_at"] - look["looked_at"], abs=0.01)
    assert recovered.verdict is Verdict.PROCEED and repository.get_job(store, job.id).verdict is Verdict.PROCEED
    assert "the error is transient; retry 1 of 1" in recovered.reasons and "applied: 20240102_add_email" in recovered.reasons
    rows = rows_of(target_db, "20240102_add_email")
    assert [(row["finished_at"] is not None, row["rolled_back_at"] is not None) for row in rows] == [(False, True), (True, False)]
    assert target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_a_lock_held_past_the_wait_blocks_naming_the_session(store, target_db, write_migrations):
    config = make_config(target_db, retry_wait_seconds=0.5)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
    lock = HeldLock(target_db, "Patient", application_name="reporting")
    try:
        deployed, recovered = deploy_then_recover(store, config, scripts)  # the lock stays held
    finally:
        lock.release()

    assert decision_of(recovered, 1)["action"] == "retry"
    assert "decide:2" not in recovered.facts  # the retry was not spent on a lock still held
    looks = [recovered.facts[f"wait_for_blockers:1:{n}"] for n in range(1, 1 + sum(step.startswith("wait_for_blockers:1:") for step in recovered.facts))]
    assert [look["outcome"] for look in looks[:-1]] == ["waiting"] * (len(looks) - 1) and looks[-1]["outcome"] == "gave_up"
    assert looks[-1]["waited_seconds"] >= 0.5 and [b["pid"] for b in looks[-1]["blockers"]] == [lock.pid]
    assert recovered.verdict is Verdict.BLOCKED and deployed.verdict is Verdict.BLOCKED
    [reason] = [reason for reason in recovered.reasons if reason.startswith("not applied again: ")]
    assert reason.startswith('not applied again: 1 session still holds locks on "Patient" after ')
    assert f'pid {lock.pid} (reporting, idle in transaction) `LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE` for ' in reason
    assert any(reason.startswith(f"recover job {recovered.id}: not applied again: ") for reason in deployed.reasons)
    rows = rows_of(target_db, "20240102_add_email")
    assert [(row["finished_at"] is not None, row["rolled_back_at"] is not None) for row in rows] == [(False, True)]
    assert not target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_retries_exhausted_marks_rolled_back_and_blocks(store, target_db, write_migrations):
    config = make_config(target_db, statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    applied_base(target_db, store, config)
    scripts = TIMES_OUT
    deployed, recovered = deploy_then_recover(store, config, scripts)

    assert recovered.facts["facts:1"]["facts"]["sqlstate"] == "57014"
    assert decision_of(recovered, 1)["action"] == "retry"
    assert not any(step.startswith("wait_for_blockers:") for step in recovered.facts)  # nobody was in the way
    assert decision_of(recovered, 2)["action"] == "mark_rolled_back"
    assert recovered.facts["facts:2"]["facts"]["attempts"] == 2
    assert recovered.verdict is Verdict.BLOCKED and deployed.verdict is Verdict.BLOCKED
    assert "no automatic retries are left (2 failed runs, at most 1 retries)" in recovered.reasons
    rows = rows_of(target_db, "20240102_add_email")
    assert len(rows) == 2 and all(row["rolled_back_at"] is not None and row["finished_at"] is None for row in rows)
    assert not target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_duplicate_object_with_every_effect_present_is_marked_applied(store, target_db, write_migrations):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    # Someone created the table by hand, exactly as the migration would.
    target_db.query('CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "note" VARCHAR(200))')
    scripts = {
        **BASE,
        "20240102_audit": 'CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "note" VARCHAR(200));\n',
        "20240103_visits": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);\n',
    }
    deployed, recovered = deploy_then_recover(store, config, scripts)

    assert recovered.facts["facts:1"]["facts"]["sqlstate"] == "42P07"
    assert recovered.facts["facts:1"]["facts"]["effects"] == "all"
    assert recovered.facts["facts:1"]["shapes"]["basis"] == "replay"
    assert decision_of(recovered)["action"] == "mark_applied"
    assert recovered.verdict is Verdict.PROCEED and deployed.verdict is Verdict.PROCEED
    assert recovered.facts["postcondition"]["problems"] == [] and recovered.facts["postcondition"]["basis"] == "replay"
    rows = rows_of(target_db, "20240102_audit")
    assert [(row["finished_at"] is not None, row["rolled_back_at"] is not None, row["logs"]) for row in rows][1] == (True, False, "")
    # The migrations after it were applied too.
    assert table_exists(target_db, "Visit")
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_without_a_shadow_every_effect_present_waits_for_a_person_before_it_is_marked_applied(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "note" VARCHAR(200))')
    scripts = {**BASE, "20240102_audit": 'CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "note" VARCHAR(200));\n'}
    deployed, recovered = deploy_then_recover(store, config, scripts)

    assert recovered.facts["facts:1"]["facts"]["effects"] == "all"
    assert recovered.facts["facts:1"]["shapes"] == {"basis": "parsed", "why": "no shadow server is configured to replay the history on"}
    assert recovered.facts["facts:1"]["facts"]["shapes_verified"] is False
    assert recovered.state is JobState.WAITING_APPROVAL and recovered.verdict is None
    assert any("without a replay on a shadow server" in reason for reason in decision_of(recovered)["reasons"])
    assert [row["finished_at"] for row in rows_of(target_db, "20240102_audit")] == [None]


SAME_NAMED_INDEX = {**BASE, "20240102_name_idx": 'CREATE INDEX "Patient_name_idx" ON "Patient"("name");\n'}


@pytest.mark.parametrize("with_shadow", [True, False], ids=["replay", "parsed"])
def test_a_same_named_index_on_another_column_is_not_the_migrations_index(store, target_db, with_shadow):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL) if with_shadow else None)
    applied_base(target_db, store, config)
    # An index of the migration's name, on the wrong column: the migration fails with 42P07.
    target_db.query('CREATE INDEX "Patient_name_idx" ON "Patient"("id")')
    deployed, recovered = deploy_then_recover(store, config, SAME_NAMED_INDEX)

    facts = recovered.facts["facts:1"]
    assert facts["facts"]["sqlstate"] == "42P07"
    assert facts["facts"]["effects"] != "all"
    assert decision_of(recovered)["action"] != "mark_applied"
    assert recovered.verdict is Verdict.BLOCKED and deployed.verdict is Verdict.BLOCKED
    if with_shadow:
        (check,) = facts["shapes"]["checks"]
        assert (check["object"], check["status"]) == ("index public.Patient_name_idx", "other shape")
        assert '("id")' in check["found"]["definition"] or "(id)" in check["found"]["definition"]
    else:
        (check,) = [c for c in facts["probe"]["checks"] if c["effect"]["kind"] == "index"]
        assert check["status"] == "other shape" and "not the index the migration creates" in check["note"]
    assert [row["finished_at"] for row in rows_of(target_db, "20240102_name_idx")] == [None]
    found = [reason for reason in recovered.reasons if reason.startswith("found on the target: ") and "Patient_name_idx" in reason]
    assert len(found) == 1, recovered.reasons
    # IF NOT EXISTS would be the wrong advice: it would keep the index of the other shape.
    assert decision_of(recovered)["plan"][0].startswith("the objects 20240102_name_idx meets are not the ones it creates: rename or drop them")


def test_a_same_named_table_of_another_shape_is_not_marked_applied(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('CREATE TABLE "Audit" ("id" INT)')
    scripts = {**BASE, "20240102_audit": 'CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "note" VARCHAR(200));\n'}
    deployed, recovered = deploy_then_recover(store, config, scripts)

    assert recovered.facts["facts:1"]["facts"]["effects"] == "partial"
    assert decision_of(recovered)["action"] == "mark_rolled_back"
    assert recovered.verdict is Verdict.BLOCKED
    # The table met is not the migration's (its "id" is nullable, "note" is missing): IF NOT EXISTS would keep it.
    assert "found on the target: column id on public.Audit is nullable, so it is not the column the migration adds" in recovered.reasons
    assert decision_of(recovered)["plan"][0].startswith("the objects 20240102_audit meets are not the ones it creates: rename or drop them")


def test_syntax_error_is_marked_rolled_back_and_blocks(store, target_db, write_migrations):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_typo": 'BEGIN;\nCREATE TABLE "Tag" ("id" INT);\nCOMMIT;\nCREATE TABLE "Oops" ("id" INT;\n'}
    deployed, recovered = deploy_then_recover(store, config, scripts)

    facts = recovered.facts["facts:1"]["facts"]
    assert (facts["sqlstate"], facts["error_class"], facts["parses"]) == ("42601", "definition", False)
    assert decision_of(recovered)["action"] == "mark_rolled_back"
    assert recovered.verdict is Verdict.BLOCKED
    assert "PostgreSQL rejected 20240102_typo before running any of it (a syntax error)" in recovered.reasons
    # PostgreSQL parsed the whole file first: even the committed part never ran.
    assert not table_exists(target_db, "Tag")
    assert [row["rolled_back_at"] is not None for row in rows_of(target_db, "20240102_typo")] == [True]
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_data_violation_blocks_with_a_plan(store, target_db, write_migrations):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'}
    deployed, recovered = deploy_then_recover(store, config, scripts)

    facts = recovered.facts["facts:1"]["facts"]
    assert (facts["sqlstate"], facts["error_class"], facts["transactional"]) == ("23502", "data", True)
    decision = decision_of(recovered)
    assert decision["action"] == "mark_rolled_back"
    assert decision["plan"] == ["fix the rows that violate 20240102_name_required, or change it to cope with them, then deploy again"]
    assert recovered.verdict is Verdict.BLOCKED and deployed.verdict is Verdict.BLOCKED
    assert "next: fix the rows that violate 20240102_name_required, or change it to cope with them, then deploy again" in recovered.reasons
    assert target_db.query("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'name'") == [("YES",)]
    assert_prisma_agrees(target_db, write_migrations, scripts)


HALF_APPLIED_IDEMPOTENT = 'BEGIN;\nCREATE TABLE IF NOT EXISTS "Tag" ("id" INT);\nCOMMIT;\nALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "tagId" INT;\n'


def test_half_applied_idempotent_migration_is_retried(store, target_db, write_migrations):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_tags": HALF_APPLIED_IDEMPOTENT}
    lock = HeldLock(target_db, "Patient")
    try:
        deployed, recovered = deploy_then_recover(store, config, scripts, before_recovery=lock.release)
    finally:
        lock.release()

    facts = recovered.facts["facts:1"]["facts"]
    assert (facts["effects"], facts["transactional"], facts["idempotent"]) == ("partial", False, True)
    assert decision_of(recovered)["action"] == "retry"
    assert recovered.verdict is Verdict.PROCEED and deployed.verdict is Verdict.PROCEED
    assert table_exists(target_db, "Tag")
    assert target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'tagId'")
    assert_prisma_agrees(target_db, write_migrations, scripts)


HALF_APPLIED_WITH_ROLLBACK = """BEGIN;
CREATE TABLE "Invoice" ("id" INT);
COMMIT;
ALTER TABLE "Patient" ADD CONSTRAINT "Patient_name_check" CHECK ("name" IS NOT NULL);

-- ROLLBACK SQL:
-- ALTER TABLE "Patient" DROP CONSTRAINT IF EXISTS "Patient_name_check";
-- DROP TABLE IF EXISTS "Invoice";
"""


def test_half_applied_non_idempotent_with_verified_rollback_is_rolled_back(store, target_db, write_migrations):
    config = make_config(target_db, automatic_rollback=True, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK}
    deployed, recovered = deploy_then_recover(store, config, scripts)

    facts = recovered.facts["facts:1"]["facts"]
    assert (facts["effects"], facts["idempotent"], facts["rollback_source"]) == ("partial", False, "section")
    assert (facts["rollback_complete"], facts["rollback_verified"]) == (True, True)
    assert decision_of(recovered)["action"] == "run_rollback_sql"
    assert recovered.verdict is Verdict.BLOCKED
    assert recovered.facts["act:1:rollback_sql"]["probe"]["state"] == "none"
    assert not table_exists(target_db, "Invoice")
    assert [row["rolled_back_at"] is not None for row in rows_of(target_db, "20240102_invoices")] == [True]
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_unverified_rollback_waits_for_approval_then_runs(store, target_db):
    config = make_config(target_db, automatic_rollback=True)  # no shadow server
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK}
    deployed, waiting = deploy_then_recover(store, config, scripts)

    assert waiting.state is JobState.WAITING_APPROVAL and waiting.verdict is None
    approval = waiting.facts["approval"]
    assert approval["step"] == "act:1" and approval["action"] == "run_rollback_sql"
    assert approval["plan"][0] == "run the rollback SQL of 20240102_invoices (section) in one transaction under Prisma's lock"
    assert 'DROP TABLE IF EXISTS "Invoice";' in approval["rollback"]["sql"]
    assert table_exists(target_db, "Invoice")  # nothing ran yet

    repository.record_approval(store, waiting.id, approved=True, by="ops", comment="checked the section")
    done = run_job(store, config, waiting.id)
    assert done.verdict is Verdict.BLOCKED
    assert "approved by ops: checked the section" in done.reasons
    assert not table_exists(target_db, "Invoice")
    assert repository.get_job(store, deployed.id).verdict is Verdict.BLOCKED


def test_rejected_plan_changes_nothing(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK}
    _, waiting = deploy_then_recover(store, config, scripts)
    rejected = repository.record_approval(store, waiting.id, approved=False, by="ops", comment="fix by hand", reasons=["rejected by ops: fix by hand"])
    # Who rejected it, then what it waited with: the verdict says what was at stake.
    waited_with = [f"{reason} (while it waited for approval)" for reason in waiting.reasons]
    assert waited_with and (rejected.state, rejected.verdict, rejected.reasons) == (
        JobState.SUCCEEDED,
        Verdict.BLOCKED,
        ["rejected by ops: fix by hand", *waited_with],
    )
    assert run_job(store, config, waiting.id) == rejected
    assert table_exists(target_db, "Invoice")
    assert [row["rolled_back_at"] for row in rows_of(target_db, "20240102_invoices")] == [None]


def test_prismas_lock_held_by_another_session_defers_then_proceeds(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
    lock = HeldLock(target_db, "Patient")
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    run_job(store, config, job.id)
    lock.release()
    child_id = repository.finished_steps(store, job.id)["recover"]["job"]
    with psycopg.connect(target_db.conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        with pytest.raises(Deferred) as deferred:
            run_job(store, config, child_id)
        assert "another session holds Prisma's migration lock: pid" in deferred.value.reason
        assert repository.get_job(store, child_id).state is JobState.RUNNING
    recovered = run_job(store, config, child_id)
    assert recovered.verdict is Verdict.PROCEED
    assert repository.finished_steps(store, child_id)["wait_for_lock:1"]["lock_holder"]["pid"] > 0


def test_recover_on_demand_with_nothing_failed_proceeds(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    digest = repository.latest_bundle_digest(store, "staging")
    job, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ops", params={"phase": "failed"}, bundle_digest=digest)
    recovered = run_job(store, config, job.id)
    assert (recovered.verdict, recovered.reasons) == (Verdict.PROCEED, ["no failed migration"])


def test_policy_without_retries_marks_a_transient_failure_rolled_back(store, target_db):
    config = make_config(target_db, max_automatic_retries=0)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
    lock = HeldLock(target_db, "Patient")
    try:
        _, recovered = deploy_then_recover(store, config, scripts, before_recovery=lock.release)
    finally:
        lock.release()
    assert decision_of(recovered)["action"] == "mark_rolled_back"
    assert recovered.verdict is Verdict.BLOCKED


def test_people_are_told_once_when_a_plan_waits_and_when_a_verdict_blocks(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    told = []

    def notify(kind, job, **details):
        told.append((kind, job.id, details))

    scripts = {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK}
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    run_job(store, config, job.id, notify=notify)
    child_id = repository.finished_steps(store, job.id)["recover"]["job"]
    run_job(store, config, child_id, notify=notify)
    run_job(store, config, child_id, notify=notify)  # a redelivered message tells nobody twice
    assert [(kind, job_id) for kind, job_id, _ in told] == [("approval_needed", child_id)]
    assert told[0][2]["plan"][0].startswith("run the rollback SQL of 20240102_invoices")

    waited_with = repository.get_job(store, child_id).reasons
    rejected = repository.record_approval(store, child_id, approved=False, by="ops", comment=None, reasons=["rejected by ops"])
    hand_verdict_to_parent(store, rejected)
    assert repository.get_job(store, job.id).reasons == [
        f"recover job {child_id}: {reason}" for reason in ["rejected by ops", *(f"{r} (while it waited for approval)" for r in waited_with)]
    ]
    assert run_job(store, config, job.id, notify=notify).verdict is Verdict.BLOCKED
    assert len(told) == 1  # the deploy took the recover job's verdict; that job told people already

    other, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci", params={"phase": "post"}, bundle_digest=digest)
    checked = run_job(store, config, other.id, notify=notify)
    assert checked.verdict is Verdict.BLOCKED
    assert told[-1][:2] == ("verdict_blocked", other.id)
    assert "notify:verdict_blocked" in repository.finished_steps(store, other.id)


class OpenWriter:
    """Another session's open transaction that wrote to a table: CREATE INDEX CONCURRENTLY waits for it."""

    def __init__(self, target_db, table):
        self.conn = psycopg.connect(target_db.conninfo)
        self.pid = self.conn.info.backend_pid
        self.conn.execute(f'INSERT INTO "{table}" DEFAULT VALUES')

    def release(self):
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


CONCURRENT_INDEX = {**BASE, "20240102_name_idx": 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Patient_name_idx" ON "Patient"("name");\n'}


def index_state(target_db, name):
    return target_db.query("SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = to_regclass(%s)", (f'public."{name}"',))


@pytest.mark.parametrize("with_shadow", [True, False], ids=["replay", "parsed"])
def test_an_invalid_index_from_a_timed_out_concurrent_build_is_dropped_before_the_retry(store, target_db, write_migrations, with_shadow):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL) if with_shadow else None)
    applied_base(target_db, store, config)
    writer = OpenWriter(target_db, "Patient")
    try:
        # The build times out waiting for the writer and leaves the index INVALID; the writer ends before the retry.
        deployed, recovered = deploy_then_recover(store, config, CONCURRENT_INDEX, before_recovery=writer.release)
    finally:
        writer.release()

    facts = recovered.facts["facts:1"]["facts"]
    assert (facts["sqlstate"], facts["effects"], facts["invalid_indexes"]) == ("55P03", "none", ["public.Patient_name_idx"])
    decision = decision_of(recovered)
    assert (decision["action"], decision["drop_invalid_indexes"]) == ("retry", ["public.Patient_name_idx"])
    assert recovered.facts["act:1:drop_invalid_indexes"] == {"dropped": ["public.Patient_name_idx"]}
    # Without the drop, IF NOT EXISTS would have skipped the INVALID index and the verdict been proceed.
    assert index_state(target_db, "Patient_name_idx") == [(True, True)]
    assert recovered.verdict is Verdict.PROCEED and deployed.verdict is Verdict.PROCEED
    assert recovered.facts["postcondition"]["problems"] == []
    assert_prisma_agrees(target_db, write_migrations, CONCURRENT_INDEX)


def test_an_invalid_index_is_dropped_when_the_migration_is_marked_rolled_back(store, target_db):
    config = make_config(target_db, max_automatic_retries=0)
    applied_base(target_db, store, config)
    writer = OpenWriter(target_db, "Patient")
    try:
        deployed, recovered = deploy_then_recover(store, config, CONCURRENT_INDEX, before_recovery=writer.release)
    finally:
        writer.release()

    assert decision_of(recovered)["action"] == "mark_rolled_back"
    assert recovered.verdict is Verdict.BLOCKED
    # Rolled back means as before the migration: no INVALID leftover for the next deploy to skip.
    assert index_state(target_db, "Patient_name_idx") == []


def test_the_postcondition_covers_what_the_deploy_applied_before_its_recover_job_took_over(store, target_db):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    target_db.query('CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY)')
    scripts = {
        **BASE,
        "20240102_tags": 'CREATE TABLE "Tag" ("id" SERIAL PRIMARY KEY);\n',
        "20240103_audit": 'CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY);\n',
    }
    deployed, recovered = deploy_then_recover(store, config, scripts)

    assert recovered.verdict is Verdict.PROCEED and deployed.verdict is Verdict.PROCEED
    checked = recovered.facts["postcondition"]
    assert (checked["basis"], checked["migrations"], checked["problems"]) == ("replay", ["20240102_tags", "20240103_audit"], [])


def test_an_invalid_index_that_a_held_lock_keeps_from_being_dropped_waits_for_a_person(store, target_db, write_migrations):
    config = make_config(target_db, retry_wait_seconds=0.3)
    applied_base(target_db, store, config)
    writer = OpenWriter(target_db, "Patient")
    try:
        deployed, _ = deploy_then_recover(store, config, CONCURRENT_INDEX, before_recovery=lambda: None)
        recover_id = repository.finished_steps(store, deployed.id)["recover"]["job"]
        waiting = run_as_the_task_would(store, config, recover_id)
        # Blocked would leave the INVALID index behind: a person decides, with the sessions named.
        assert waiting.state is JobState.WAITING_APPROVAL
        assert waiting.facts["approval"]["step"] == "act:1:leftovers"
        assert waiting.facts["approval"]["invalid_indexes"] == ["public.Patient_name_idx"]
        assert any(reason.startswith("not applied again: ") and f"pid {writer.pid}" in reason for reason in waiting.reasons), waiting.reasons
        assert index_state(target_db, "Patient_name_idx") == [(False, False)]
    finally:
        writer.release()
    repository.record_approval(store, recover_id, approved=True, by="oncall", comment="ended the writer")
    recovered = run_as_the_task_would(store, config, recover_id)

    assert recovered.verdict is Verdict.PROCEED, recovered.reasons
    assert "approved by oncall: ended the writer" in recovered.reasons
    assert index_state(target_db, "Patient_name_idx") == [(True, True)]
    assert_prisma_agrees(target_db, write_migrations, CONCURRENT_INDEX)
