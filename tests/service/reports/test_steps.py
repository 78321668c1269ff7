"""The typed records of journal steps: each reads back what it writes, and each reads the keys the
real producers journal (real recover, rollback, check and deploy jobs on real databases), so that a
key renamed on either side fails here rather than leaving a report that says "None"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit_recovery import submit_cutover, submit_failover, submit_restore
from service.prisma.database import parse_database_url
from service.recovery.rds.client import rds_client
from service.reports.events import ApprovalEvent, ApprovalShown, Notified, Transition
from service.reports.steps import (
    ApplyStep,
    AwsStep,
    CatalogWaitStep,
    DecideStep,
    FactsStep,
    FailoverFacts,
    FailureFacts,
    Finding,
    HistoryWrite,
    LintStep,
    LockWaitStep,
    MigrationRead,
    PostconditionStep,
    RecoverStep,
    RestoreFacts,
    RollbackPlan,
    SnapshotStep,
    StatusStep,
    StepFailure,
    VerifyStep,
)
from service.store import repository
from tests.aws import CLUSTER, INSTANCE
from tests.conftest import ADMIN_URL
from tests.service.jobs.test_recover import BASE, HeldLock, applied_base, deploy_then_recover, make_config
from tests.service.jobs.test_restore import make_config as make_rds_config
from tests.service.jobs.test_rollback import deployed, rollback_job
from tests.service.reports.test_build import ADD_EMAIL, gate_job

FACTS = FailureFacts(
    migration_name="20240102_add_email", sqlstate="55P03", message="canceling statement due to lock timeout", error_class="transient",
    attempts=2, in_bundle=True, parses=True, effects="partial", fully_probed=False, transactional=False,
    not_transactional_because=("CREATE INDEX CONCURRENTLY",), idempotent=False, unguarded=('ALTER TABLE "Patient" ADD COLUMN "email"',),
    rollback_source="derived", rollback_complete=True, rollback_verified=False, rollback_gaps=("a dropped column's data",),
    max_automatic_retries=1, retries_left=0, automatic_rollback=True, invalid_indexes=("public.idx",), lock_holder="pid 42 (psql)",
)  # fmt: skip
PLAN = RollbackPlan(source="section", sql='ALTER TABLE "Patient" DROP COLUMN "email";', complete=True, refused=(), reasons=("left out",))

RECORDS = [
    StepFailure("P3018 failed", "marked rolled back: no effect is present", "P3018"),
    FACTS,
    PLAN,
    RollbackPlan(source="none", refused=("the bundle has no 20240102_add_email",)),
    FactsStep(FACTS, FACTS.to_dict(), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 3, PLAN, ("a difference",)),
    DecideStep("retry", "proceed", ("transient",), ("mark rolled back", "apply again"), True),
    LockWaitStep(4242, "prisma-migrate"),
    StatusStep(
        (MigrationRead("20240101_base", "applied"), MigrationRead("20240102_add_email", "failed", True, "55P03", "lock timeout")),
        ("20240103_next",),
        ("20240102_add_email",),
        False,
    ),  # fmt: skip
    LintStep((Finding("20240102_add_email", 1, 7, "adding-required-field", "error", "a NOT NULL column", "give it a default"),)),
    RecoverStep("job-1", "20240102_add_email failed"),
    ApplyStep("finished: every effect is present"),
    CatalogWaitStep("2 sessions hold exclusive locks", 1.5),
    PostconditionStep(("20240102_add_email",), ("column email missing",), "replay"),
    VerifyStep(False, ("the catalog differs",)),
    HistoryWrite(marked_rolled_back=("row-1",)),
    HistoryWrite(marked_applied=True),
    HistoryWrite(dropped=("public.idx",)),
    HistoryWrite(rolled_back_rows=(), note="already rolled back"),
    HistoryWrite(rolled_back_rows=("row-1",), effects_left="none", probed=True),
    HistoryWrite(succeeded=False, applied=("20240101_base",), failed_migration="20240102_x", failed_sqlstate="23502", failed_message="null value", failed=True),
    RestoreFacts(
        source="prod-db", snapshot_id="rds:prod-db-1", new_identifier="prod-db-restore-1", endpoint="h", port=5432, plan=RestoreFacts(summary="restore")
    ),
    SnapshotStep("rds:prod-db-1"),
    AwsStep("restore_instance", "prod-db-restore-1", True, "available", "available", "h", 5432, "a rename did not finish"),
    AwsStep(state="available", status="prod-replica is a standalone instance and available", endpoint="h", port=5432, replica="prod-replica"),
    FailoverFacts("prod", "prod-replica", False, None, "Promote read replica prod-replica", ("replication is error",)),
    Notified("verdict", "delivered", 200, 2, None, None),
    ApprovalEvent(True, "ops", "looks right"),
    Transition("recover", "staging", "proceed", (("approved by", "ops"),)),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_a_record_reads_back_what_it_writes(record):
    assert type(record).from_dict(record.to_dict()) == record


@pytest.mark.parametrize("kind", [type(record) for record in RECORDS if type(record) is not FactsStep], ids=lambda kind: kind.__name__)
def test_a_step_that_recorded_nothing_reads_as_the_defaults(kind):
    assert kind.from_dict({}) == kind()


def test_the_plan_shown_for_approval_says_whether_it_showed_sql():
    assert ApprovalShown.from_dict({"step": "execute", "plan": ["run it"], "sql": "DROP TABLE x;"}) == ApprovalShown("execute", ("run it",), True)
    assert ApprovalShown.from_dict({"step": "act:1", "rollback": {"sql": "DROP TABLE x;"}}).showed_sql
    assert not ApprovalShown.from_dict({"step": "start", "plan": ["restore"]}).showed_sql


# Step family -> how its data reads, and the part of the data the record stands for.
READERS: dict[str, Any] = {
    "facts": lambda data: (FailureFacts.from_dict(data["facts"]), data["facts"]),
    "decide": lambda data: (DecideStep.from_dict(data), data),
    "status": lambda data: (StatusStep.from_dict(data), data),
    "recheck": lambda data: (StatusStep.from_dict(data), data),
    "lint": lambda data: (LintStep.from_dict(data), data),
    "recover": lambda data: (RecoverStep.from_dict(data), data),
    "plan": lambda data: (RollbackPlan.from_dict(data), data),
    "verify": lambda data: (VerifyStep.from_dict(data), data),
    "wait_for_lock": lambda data: (LockWaitStep.from_dict(data), data),
    "wait_for_catalog": lambda data: (CatalogWaitStep.from_dict(data), data),
    "postcondition": lambda data: (PostconditionStep.from_dict(data), data),
}


def contained(part: Any, whole: Any) -> bool:
    """Whether everything `part` says is in `whole`, under the same keys with the same values."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(key in whole and contained(value, whole[key]) for key, value in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(part) == len(whole) and all(contained(p, w) for p, w in zip(part, whole, strict=True))
    return bool(part == whole)


def read_journal(store, job_id) -> set[str]:
    """Each finished step, delivery note and approval of the job, read through its record: what the record
    writes back is part of what the producer journaled. The families read, for the caller to check."""
    read = set()
    for event in repository.job_events(store, job_id):
        if event.kind == "step_finished" and event.step.split(":", 1)[0] in READERS:
            family = event.step.split(":", 1)[0]
            record, part = READERS[family](event.data)
            assert contained(record.to_dict(), part), (event.step, record.to_dict(), part)
            read.add(family)
        elif event.kind == "note" and Notified.is_delivery(event.data):
            assert contained(Notified.from_dict(event.data).to_dict(), event.data)
            read.add("delivery")
        elif event.kind == "approval":
            assert contained(ApprovalEvent.from_dict(event.data).to_dict(), event.data)
            read.add("approval")
    return read


def finished(store, job_id, step) -> dict[str, Any]:
    return [e.data for e in repository.job_events(store, job_id) if e.kind == "step_finished" and e.step == step][-1]


@pytest.fixture
def store(scratch_db):
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


def test_a_real_recover_journal_reads_through_the_records(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    lock = HeldLock(target_db, "Patient")
    try:
        _, recovered = deploy_then_recover(store, config, ADD_EMAIL, before_recovery=lock.release)
    finally:
        lock.release()
    assert recovered.verdict is Verdict.PROCEED

    assert {"facts", "decide", "recheck"} <= read_journal(store, recovered.id)
    facts = FactsStep.from_dict(finished(store, recovered.id, "facts:1"))
    assert (facts.facts.migration_name, facts.facts.sqlstate, facts.facts.error_class, facts.facts.attempts) == ("20240102_add_email", "55P03", "transient", 1)
    assert facts.run_started_at is not None and facts.statement_count == 1
    assert DecideStep.from_dict(finished(store, recovered.id, "decide:1")).action == "retry"
    marked = HistoryWrite.from_dict(finished(store, recovered.id, "act:1:mark_rolled_back"))
    assert marked.marked_rolled_back and len(marked.marked_rolled_back) == 1
    recheck = StatusStep.from_dict(finished(store, recovered.id, "recheck"))
    assert recheck.state_of("20240102_add_email") == "reapplied" and recheck.failed == () and recheck.up_to_date is True


def test_a_real_rollback_journal_reads_through_the_records(store, target_db):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL))
    job = rollback_job(store, deployed(store, config))
    assert run_job(store, config, job.id).state is JobState.WAITING_APPROVAL
    shown = ApprovalShown.from_dict(repository.get_job(store, job.id).facts["approval"])
    assert shown.step == "execute" and shown.showed_sql and shown.plan
    repository.record_approval(store, job.id, approved=True, by="ops", comment=None)
    assert run_job(store, config, job.id).verdict is Verdict.PROCEED

    assert {"plan", "verify", "recheck", "approval"} <= read_journal(store, job.id)
    plan = RollbackPlan.from_dict(finished(store, job.id, "plan"))
    assert plan.refused == () and plan.source == "section" and "DROP" in plan.sql
    assert VerifyStep.from_dict(finished(store, job.id, "verify")).verified is True
    executed = HistoryWrite.from_dict(finished(store, job.id, "execute"))
    assert executed.rolled_back_rows and len(executed.rolled_back_rows) == 1 and executed.probed


def test_real_check_and_deploy_journals_read_through_the_records(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    checked = gate_job(store, config, JobKind.CHECK, ADD_EMAIL)
    assert {"status", "lint"} <= read_journal(store, checked.id)
    status = StatusStep.from_dict(finished(store, checked.id, "status"))
    assert status.to_deploy == ("20240102_add_email",) and status.state_of("20240101_patients") == "applied"
    assert LintStep.from_dict(finished(store, checked.id, "lint")).findings

    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    deploy, recovered = deploy_then_recover(store, config, {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'})
    assert "recover" in read_journal(store, deploy.id)
    assert RecoverStep.from_dict(finished(store, deploy.id, "recover")).job == recovered.id
    read_journal(store, recovered.id)


@pytest.fixture
def client_for(moto_endpoint):
    return lambda settings: rds_client(settings, endpoint_url=moto_endpoint)


def test_real_restore_and_cutover_journals_read_through_the_records(store, target_db, rds_api, instance, client_for):
    config = make_rds_config(target_db, INSTANCE, restores_need_approval=False)
    restore, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True, "new_identifier": "prod-recovery"}, "ops")
    assert run_job(store, config, restore.id, rds_client_for=client_for).verdict is Verdict.PROCEED
    cutover, _ = submit_cutover(store, config, restore.id, "ops")
    run_job(store, config, cutover.id, rds_client_for=client_for)
    repository.record_approval(store, cutover.id, approved=True, by="oncall", comment=None)
    assert run_job(store, config, cutover.id, rds_client_for=client_for).verdict is Verdict.PROCEED

    for job_id, step in ((restore.id, "plan"), (restore.id, "endpoint"), (cutover.id, "plan"), (cutover.id, "cutover:done")):
        data = finished(store, job_id, step)
        assert contained(RestoreFacts.from_dict(data).to_dict(), data), step
    for job_id, step in ((restore.id, "start"), (restore.id, "endpoint"), (cutover.id, "cutover:rename_old"), (cutover.id, "cutover:done")):
        data = finished(store, job_id, step)
        assert contained(AwsStep.from_dict(data).to_dict(), data), step
    assert AwsStep.from_dict(finished(store, restore.id, "start")) == AwsStep("restore_instance", "prod-recovery", resumed=False)
    assert AwsStep.from_dict(finished(store, restore.id, "endpoint")).address.startswith("prod-recovery.")
    plan = RestoreFacts.from_dict(finished(store, restore.id, "plan"))
    assert (plan.source, plan.new_identifier) == ("prod", "prod-recovery") and plan.latest_restorable_time and plan.summary
    endpoint = RestoreFacts.from_dict(finished(store, restore.id, "endpoint"))
    assert endpoint.endpoint and endpoint.endpoint.startswith("prod-recovery.") and endpoint.port
    assert RestoreFacts.from_dict(finished(store, cutover.id, "cutover:done")).endpoint


def test_a_real_failover_journal_reads_through_the_records(store, target_db, rds_api, cluster, client_for):
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    config = make_rds_config(target_db, replace(CLUSTER, read_replica="aurora-prod-reader"), failovers_need_approval=False)
    failover, _ = submit_failover(store, config, "prod", "ops")
    assert run_job(store, config, failover.id, rds_client_for=client_for).verdict is Verdict.PROCEED

    plan = finished(store, failover.id, "plan")
    assert contained(FailoverFacts.from_dict(plan).to_dict(), plan)
    assert FailoverFacts.from_dict(plan) == FailoverFacts("aurora-prod", "aurora-prod-reader", True, "aurora-prod-writer", plan["summary"])
    for step in ("start", "endpoint"):
        data = finished(store, failover.id, step)
        assert contained(AwsStep.from_dict(data).to_dict(), data), step
    assert AwsStep.from_dict(finished(store, failover.id, "start")) == AwsStep("failover_cluster", "aurora-prod-reader", resumed=False)
    endpoint = AwsStep.from_dict(finished(store, failover.id, "endpoint"))
    assert endpoint.replica == "aurora-prod-reader" and endpoint.address.startswith("aurora-prod.")
