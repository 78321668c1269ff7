"""Incident reports from real recover and rollback jobs on real databases, and restore journals.

Each test runs the job the way a worker does, then builds the report from the job and its journal
and checks the runbook checklist item by item: done or not (or not applicable), the time (the
journal event that shows it) and the evidence, and the lines of the Markdown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.analysis.lint import lint_migrations
from service.analysis.replay import history_keys
from service.config.records import Config, DriftSettings, Notifications, Policy, Target, Webhook
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.notifications import make_notifier
from service.prisma.database import parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.reports.build import build_report
from service.reports.model import CHECKLIST
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.replays import drop_template
from tests.service.jobs.test_recover import (
    BASE,
    HALF_APPLIED_WITH_ROLLBACK,
    STATEMENT_TIMEOUT_MS,
    TIMES_OUT,
    HeldLock,
    applied_base,
    deploy_then_recover,
    make_config,
)
from tests.service.jobs.test_rollback import SCRIPTS, deployed, rollback_job

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NOT_CHECKED = "not checked by deploy-gate, which cannot see the application: test the critical paths and watch the error rates"
ADD_EMAIL = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}


@pytest.fixture
def store(scratch_db):
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


def report_of(store, job_id):
    job = repository.get_job(store, job_id)
    return build_report(job, repository.job_events(store, job_id), now=NOW)


def checklist(report) -> dict[str, tuple[bool | None, datetime | None, str]]:
    return {item.id: (item.done, item.at, item.evidence) for item in report.checklist}


def items_of(store, job_id):
    return checklist(report_of(store, job_id))


def notifier(sent):
    """The worker's notifier with a webhook configured for every target; what it enqueues lands in `sent`."""
    config = Config({}, (), Notifications(Webhook(url="https://hooks.example.com/T0/B0/x", secret="whsec-0123456789abcdef")))
    return make_notifier(lambda: config, sent.append)


def finished_at(store, job_id, step):
    """When the journal says a step finished (the last time it did)."""
    return [e.at for e in repository.job_events(store, job_id) if e.kind == "step_finished" and e.step == step][-1]


def markdown_lines(report) -> list[str]:
    return report.to_markdown().splitlines()


def line_starting(report, prefix) -> str:
    found = [line for line in markdown_lines(report) if line.startswith(prefix)]
    assert len(found) == 1, (prefix, report.to_markdown())
    return found[0]


def when(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_a_transient_failure_retried_to_success(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    lock = HeldLock(target_db, "Patient")
    try:
        _, recovered = deploy_then_recover(store, config, ADD_EMAIL, before_recovery=lock.release)
    finally:
        lock.release()
    assert recovered.verdict is Verdict.PROCEED
    report = report_of(store, recovered.id)
    items = checklist(report)

    assert report.title == "Incident report: recover of 20240102_add_email on staging"
    assert [item.item for item in report.checklist] == [words for _, words in CHECKLIST]
    assert (report.failure.sqlstate, report.failure.error_class, report.failure.attempts) == ("55P03", "transient", 1)
    assert report.failure.message == "canceling statement due to lock timeout"
    assert [d.action for d in report.decisions] == ["retry"]
    assert report.decisions[0].facts["effects"] == "none"
    assert "the error is transient; retry 1 of 1" in report.decisions[0].reasons

    facts_at = finished_at(store, recovered.id, "facts:1")
    assert items["migration_identified"][:2] == (True, facts_at)
    assert items["migration_identified"][2].startswith("20240102_add_email: the failed row in _prisma_migrations")
    assert "55P03 (transient): canceling statement due to lock timeout" in items["migration_identified"][2]
    # deploy-gate parsed the SQL, and nobody was asked: that is no review.
    assert items["sql_reviewed"][:2] == (False, None)
    assert items["sql_reviewed"][2].startswith("not reviewed by a person: no one approved a plan that showed the SQL; deploy-gate read it: ")
    assert "not idempotent: ADD COLUMN email has no IF NOT EXISTS" in items["sql_reviewed"][2]
    assert items["rollback_tested"][0] is None
    assert items["rollback_tested"][2] == (
        "no rollback SQL was needed: 20240102_add_email has no transaction control, so PostgreSQL undid the whole file when it failed; "
        "20240102_add_email was marked rolled back and applied again"
    )
    assert items["rollback_executed"][0] is None
    assert items["backup_accessible"][0] is False
    assert f"deploy job {recovered.parent_id}" in items["backup_accessible"][2]
    # A retry that worked blocks nothing and asks nobody: nothing was sent.
    assert items["team_notified"] == (False, None, "no notification recorded")
    assert items["history_updated"][:2] == (True, finished_at(store, recovered.id, "act:1:deploy"))
    assert "marked 1 failed history row(s) rolled back (act:1:mark_rolled_back" in items["history_updated"][2]
    assert "finished rows for 20240102_add_email (act:1:deploy" in items["history_updated"][2]
    # Re-reading the history is not checking the application, which deploy-gate cannot see.
    assert items["functionality_verified"] == (False, None, NOT_CHECKED)
    assert items["incident_documented"] == (True, NOW, f"this report, generated from {len(report.timeline)} journal events")

    assert [a.step for a in report.actions] == ["act:1:mark_rolled_back", "act:1:deploy", "apply:20240102_add_email", "postcondition"]
    assert report.actions[-1].summary == "20240102_add_email: every effect in place, compared with the shapes their SQL states"
    assert [a.outcome for a in report.actions] == ["finished"] * 4
    assert report.history.checked and report.history.step == "recheck"
    assert report.history.summary == "20240102_add_email is reapplied; no failed migration; nothing to deploy"
    assert report.approvals == [] and report.pending_approval is None

    assert line_starting(report, "- [x] Identified the problematic migration") == (
        f"- [x] Identified the problematic migration ({when(facts_at)}): {items['migration_identified'][2]}"
    )
    assert line_starting(report, "- [ ] Team notified") == "- [ ] Team notified of rollback: no notification recorded"
    assert line_starting(report, "- [ ] ~~Tested rollback").startswith(
        "- [ ] ~~Tested rollback in staging/local~~ (not applicable): no rollback SQL was needed"
    )
    assert line_starting(report, "- [ ] Verified application functionality") == f"- [ ] Verified application functionality: {NOT_CHECKED}"
    assert "- SQLSTATE: `55P03` (transient error)" in markdown_lines(report)
    assert (
        "- Effects found in the database: none left by this run: 20240102_add_email has no transaction control, so PostgreSQL undid the whole file when it failed"
        in markdown_lines(report)
    )


def test_retries_run_out_over_two_rounds(store, target_db):
    # Every run times out: a held lock would now end the first round blocked, waiting for its session.
    config = make_config(target_db, statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    applied_base(target_db, store, config)
    _, recovered = deploy_then_recover(store, config, TIMES_OUT)
    report = report_of(store, recovered.id)
    items = checklist(report)

    assert [(d.step, d.action) for d in report.decisions] == [("decide:1", "retry"), ("decide:2", "mark_rolled_back")]
    assert report.failure.attempts == 1 and report.decisions[1].facts["attempts"] == 2
    # The re-apply failed again: its run is an action that failed, and the next round decided.
    assert [(a.step, a.outcome) for a in report.actions] == [
        ("act:1:mark_rolled_back", "finished"), ("act:1:deploy", "finished"), ("apply:20240102_add_email", "failed"), ("act:2:mark_rolled_back", "finished"),
    ]  # fmt: skip
    assert report.actions[1].summary == "20240102_add_email failed (57014: canceling statement due to statement timeout)"
    assert items["history_updated"][:2] == (True, finished_at(store, recovered.id, "act:2:mark_rolled_back"))
    assert "a failed row for 20240102_add_email (act:1:deploy" in items["history_updated"][2]
    assert items["rollback_executed"][0] is None
    assert "### decide:2" in markdown_lines(report)
    assert "- Failed runs: 2; automatic retries allowed: 1; left: 0" in markdown_lines(report)


def test_a_verified_rollback_run_automatically(store, target_db):
    config = make_config(target_db, automatic_rollback=True, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    deployed_job, recovered = deploy_then_recover(store, config, {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK})
    assert recovered.verdict is Verdict.BLOCKED
    report = report_of(store, recovered.id)
    items = checklist(report)

    assert report.decisions[0].action == "run_rollback_sql"
    assert (report.rollback_sql.source, report.rollback_sql.complete, report.rollback_sql.verified) == ("section", True, True)
    assert 'DROP TABLE IF EXISTS "Invoice";' in report.rollback_sql.sql
    facts_at = finished_at(store, recovered.id, "facts:1")
    rollback_at = finished_at(store, recovered.id, "act:1:rollback_sql")
    assert items["rollback_tested"][:2] == (True, facts_at)
    assert "verified on the shadow server" in items["rollback_tested"][2]
    assert items["rollback_executed"][:2] == (True, rollback_at)
    assert "effects left afterwards: none; 1 history row(s) marked rolled back" in items["rollback_executed"][2]
    assert items["history_updated"][:2] == (True, rollback_at)
    assert items["history_updated"][2].startswith("1 failed history row(s) marked rolled back, in the rollback SQL's own transaction")
    # The target has no notifications: the blocked verdict was told to nobody, and the report says so.
    assert items["team_notified"] == (False, None, "no verdict_blocked notification is configured for staging, so none was sent")
    # Verified on the shadow server and run, but no person saw it.
    assert items["sql_reviewed"][:2] == (False, None)

    lines = markdown_lines(report)
    assert items["rollback_executed"][2].endswith("(act:1:rollback_sql)")
    assert f"- [x] Executed rollback SQL ({when(rollback_at)}): {items['rollback_executed'][2]}" in lines
    assert lines[lines.index("```sql") + 1] == 'ALTER TABLE "Patient" DROP CONSTRAINT IF EXISTS "Patient_name_check";'
    assert "From its ROLLBACK SQL section; complete; verified on the shadow server." in lines
    assert "- Effects found in the database: partial" in lines
    # Neither the shadow server nor any database location is in the report.
    document = json.dumps(report.to_dict())
    assert "127.0.0.1" not in document and "postgresql://" not in document and "127.0.0.1" not in report.to_markdown()


def test_an_unverified_rollback_waits_for_approval_then_runs(store, target_db):
    config = make_config(target_db, automatic_rollback=True)  # no shadow server
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    _, waiting = deploy_then_recover(store, config, {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK})
    assert waiting.state is JobState.WAITING_APPROVAL

    report = report_of(store, waiting.id)
    items = checklist(report)
    assert report.pending_approval.step == "act:1"
    assert report.pending_approval.plan[0] == "run the rollback SQL of 20240102_invoices (section) in one transaction under Prisma's lock"
    assert items["rollback_executed"] == (False, None, "not yet: waiting for approval of act:1")
    assert items["history_updated"] == (False, None, "not yet: waiting for approval of act:1")
    assert items["rollback_tested"] == (False, None, "not tested: no shadow server is configured to verify the rollback SQL")
    assert items["functionality_verified"] == (False, None, NOT_CHECKED)
    assert items["team_notified"] == (False, None, "no approval_needed notification is configured for staging, so none was sent")
    assert items["sql_reviewed"][:2] == (False, None)
    assert items["sql_reviewed"][2].startswith("not reviewed by a person yet: the plan of act:1 waits for approval; deploy-gate read it: ")
    assert report.actions == []
    assert "## Waiting for approval" in markdown_lines(report)

    repository.record_approval(store, waiting.id, approved=True, by="ops", comment="checked | the section")
    sent = []
    done = run_job(store, config, waiting.id, notify=notifier(sent))  # now the target has a webhook
    report = report_of(store, done.id)
    items = checklist(report)
    approval = report.approvals[0]
    assert (approval.step, approval.approved, approval.by, approval.comment) == ("act:1", True, "ops", "checked | the section")
    assert items["rollback_executed"][:2] == (True, finished_at(store, done.id, "act:1:rollback_sql"))
    assert items["rollback_tested"][0] is False
    assert items["rollback_tested"][2].endswith(f"ops approved running it at {when(approval.at)}")
    # The plan ops approved showed the rollback SQL (facts.approval): a person's review.
    assert repository.get_job(store, done.id).facts["approval"]["rollback"]["sql"]
    assert items["sql_reviewed"][:2] == (True, approval.at)
    assert items["sql_reviewed"][2].startswith("ops approved a plan that showed the rollback SQL (act:1); deploy-gate read it: ")
    # Enqueued is not delivered.
    enqueued_at = finished_at(store, done.id, "notify:verdict_blocked")
    assert [event["event"] for event in sent] == ["verdict_blocked"]
    assert items["team_notified"] == (
        False, None,
        f"no approval_needed notification is configured for staging, so none was sent; verdict_blocked notification enqueued at {when(enqueued_at)}; no delivery journaled yet",
    )  # fmt: skip

    # The delivery task journals its outcome on the job, which has ended: the job stays as it was.
    ended = repository.get_job(store, done.id)
    repository.record_notification_outcome(
        store, done.id, notification="verdict_blocked", delivery_id=sent[0]["delivery_id"], outcome="delivered", status=200, attempt=2
    )
    assert ended.state is JobState.SUCCEEDED and repository.get_job(store, done.id) == ended
    report = report_of(store, done.id)
    delivered_at = report.timeline[-1].at
    assert checklist(report)["team_notified"] == (
        True, delivered_at,
        f"no approval_needed notification is configured for staging, so none was sent; verdict_blocked notification delivered at {when(delivered_at)} (HTTP 200, attempt 2)",
    )  # fmt: skip
    assert (report.timeline[-1].event, report.timeline[-1].summary) == (
        "note",
        f"verdict_blocked notification delivered at {when(delivered_at)} (HTTP 200, attempt 2)",
    )
    lines = markdown_lines(report)
    assert f"- {when(approval.at)}: approved by ops (`act:1`): checked | the section" in lines
    # In the timeline table the comment's pipe is escaped, so the row keeps its four cells.
    assert f"| {when(approval.at)} | approval | `act:1` | approved by ops: checked \\| the section |" in lines


def test_a_rejected_plan_is_not_executed(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    _, waiting = deploy_then_recover(store, config, {**BASE, "20240102_invoices": HALF_APPLIED_WITH_ROLLBACK})
    rejected = repository.record_approval(store, waiting.id, approved=False, by="ops", comment="fix by hand", reasons=["rejected by ops: fix by hand"])
    report = report_of(store, rejected.id)
    items = checklist(report)
    rejection = report.approvals[0]
    assert rejection.approved is False
    assert items["rollback_executed"] == (False, None, f"not done: the plan was rejected by ops at {when(rejection.at)} (fix by hand)")
    assert items["history_updated"][0] is False
    assert report.pending_approval is None and report.actions == []
    assert "waiting_approval → succeeded, verdict blocked, rejected by ops" in [entry.summary for entry in report.timeline]
    assert "- [ ] Executed rollback SQL: not done: the plan was rejected by ops" in report.to_markdown()


def test_a_data_failure_marked_rolled_back_needs_no_rollback_sql(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    _, recovered = deploy_then_recover(store, config, {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'})
    report = report_of(store, recovered.id)
    items = checklist(report)

    assert (report.failure.sqlstate, report.failure.error_class) == ("23502", "data")
    assert report.decisions[0].action == "mark_rolled_back"
    assert report.decisions[0].plan == ["fix the rows that violate 20240102_name_required, or change it to cope with them, then deploy again"]
    assert items["rollback_executed"][0] is None
    assert items["rollback_executed"][2] == (
        "no rollback SQL was needed: 20240102_name_required has no transaction control, so PostgreSQL undid the whole file when it failed; "
        "recording 20240102_name_required as rolled back was enough"
    )
    assert items["history_updated"][:2] == (True, finished_at(store, recovered.id, "act:1:mark_rolled_back"))
    assert items["functionality_verified"] == (False, None, NOT_CHECKED)
    lines = markdown_lines(report)
    assert "**mark_rolled_back** (decide:1, " in report.to_markdown()
    assert "1. fix the rows that violate 20240102_name_required, or change it to cope with them, then deploy again" in lines
    assert "- Transactional (PostgreSQL undoes all of it on failure): yes" in lines


def test_a_file_postgresql_undid_whole_is_reported_from_that_one_fact(store, target_db):
    """A transactional file failing on a table that was there already: nothing of it is left, nothing to roll back."""
    config = make_config(target_db)
    applied_base(target_db, store, config)
    scripts = {**BASE, "20240102_new": 'CREATE TABLE "New" (id int);\nCREATE TABLE "Patient" (id int);\n'}
    _, recovered = deploy_then_recover(store, config, scripts)
    facts = recovered.facts["facts:1"]
    assert (facts["facts"]["sqlstate"], facts["facts"]["transactional"]) == ("42P07", True)
    report = report_of(store, recovered.id)
    items = checklist(report)
    lines = markdown_lines(report)
    undone = "20240102_new has no transaction control, so PostgreSQL undid the whole file when it failed"

    # The effects line says what the probe found was there before, not that the migration left it.
    effects = line_starting(report, "- Effects found in the database: ")
    assert effects.startswith(f"- Effects found in the database: none left by this run: {undone}")
    if facts["facts"]["effects"] in ("partial", "all"):
        assert effects.endswith("were there before it ran and are not its effects")
    assert line_starting(report, "- Rollback SQL: ").startswith(f"- Rollback SQL: nothing to roll back: {undone}")
    # The rollback section offers nothing to run, in the Markdown and in the JSON.
    assert report.rollback_sql.not_needed_because == f"nothing to roll back: {undone}"
    assert report.to_dict()["rollback_sql"]["not_needed_because"] == f"nothing to roll back: {undone}"
    section = lines[lines.index("## Rollback SQL") + 2]
    assert section.startswith(f"Nothing to roll back: {undone}.")
    assert "```sql" not in lines and "DROP TABLE" not in report.to_markdown()
    # The checklist reads the same fact.
    assert items["rollback_tested"][0] is None and items["rollback_executed"][0] is None
    assert items["rollback_executed"][2] == f"no rollback SQL was needed: {undone}; recording 20240102_new as rolled back was enough"
    assert items["sql_reviewed"][0] is False and items["sql_reviewed"][2].endswith(f"nothing to roll back: {undone}")
    # Nowhere does the report call what it found this run's effects.
    assert not any("partial" in line for line in lines if "effects" in line and "there before it ran" not in line), report.to_markdown()
    assert any(undone in reason for reason in report.decisions[0].reasons)


def test_a_recover_with_nothing_failed_re_reads_the_history(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    digest = repository.latest_bundle_digest(store, "staging")
    job, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ops", params={"phase": "failed"}, bundle_digest=digest)
    run_job(store, config, job.id)
    report = report_of(store, job.id)
    items = checklist(report)

    assert report.failure is None and report.migration is None and report.decisions == []
    assert items["migration_identified"] == (None, None, "the history holds no failed migration")
    assert items["history_updated"][0] is None
    assert items["functionality_verified"] == (False, None, NOT_CHECKED)
    assert report.history.checked and report.history.summary == "no failed migration; nothing to deploy"
    assert "The history holds no failed migration." in markdown_lines(report)


def test_a_verified_and_approved_rollback_job_fills_every_item_it_can(store, target_db):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL))
    job = rollback_job(store, deployed(store, config))
    assert run_job(store, config, job.id).state is JobState.WAITING_APPROVAL
    assert items_of(store, job.id)["sql_reviewed"][:2] == (False, None)
    repository.record_approval(store, job.id, approved=True, by="ops", comment=None)
    assert run_job(store, config, job.id).verdict is Verdict.PROCEED
    report = report_of(store, job.id)
    items = checklist(report)

    assert report.title == "Incident report: rollback of 20240102_add_email on staging"
    assert report.failure is None and report.migration == "20240102_add_email"
    assert items["migration_identified"][:2] == (True, finished_at(store, job.id, "plan"))
    assert items["migration_identified"][2] == "20240102_add_email, named by ops: its applied row in _prisma_migrations matches the bundle's file"
    # The plan ops approved carried the rollback SQL (facts.approval.sql).
    assert items["sql_reviewed"][:2] == (True, report.approvals[0].at)
    assert items["sql_reviewed"][2].startswith(
        "ops approved a plan that showed the rollback SQL (execute); deploy-gate read it: rollback SQL from its ROLLBACK SQL section"
    )
    assert items["rollback_tested"][:2] == (True, finished_at(store, job.id, "verify"))
    execute_at = finished_at(store, job.id, "execute")
    assert items["rollback_executed"][:2] == (True, execute_at)
    assert items["history_updated"] == (True, execute_at, "rolled_back_at set on 1 finished row(s) of 20240102_add_email in the rollback's own transaction")
    assert items["functionality_verified"] == (False, None, NOT_CHECKED)
    assert report.history.summary == "20240102_add_email is rolled back; no failed migration; to deploy: 20240102_add_email"
    assert items["backup_accessible"][0] is False
    assert report.history.migration_state == "rolled_back"
    assert [a.step for a in report.actions] == ["execute"]
    assert report.decisions[0].plan[0] == "under Prisma's lock, in one transaction on staging: run the rollback SQL of 20240102_add_email"

    lines = markdown_lines(report)
    assert f"- [ ] Verified application functionality: {NOT_CHECKED}" in lines
    assert "`20240102_add_email` was applied successfully; ops asked for it to be rolled back." in lines
    assert lines[lines.index("```sql") + 1] == 'DROP INDEX IF EXISTS "Patient_email_idx";'


def test_a_refused_rollback_job_says_why(store, target_db):
    config = make_config(target_db)
    scripts = {**SCRIPTS, "20240103_visits": 'CREATE TABLE "Visit" ("id" INT);\n'}
    job = rollback_job(store, deployed(store, config, scripts))
    run_job(store, config, job.id)
    items = checklist(report_of(store, job.id))
    refusal = "migrations applied after 20240102_add_email may depend on it: roll back 20240103_visits first"
    assert items["migration_identified"] == (False, None, f"not settled: the rollback was refused: {refusal}")
    assert items["rollback_tested"][0] is None
    assert items["rollback_executed"] == (False, None, f"not run: the rollback was refused: {refusal}")
    assert items["history_updated"][0] is False


def record(store, job_id, step, data):
    repository.record_step(store, job_id, step, "started")
    repository.record_step(store, job_id, step, "finished", data)


PLAN = {
    "region": "us-east-1", "source": "prod-db", "aurora": False, "kind": "snapshot", "snapshot_id": "rds:prod-db-2026-01-01",
    "restore_time": None, "latest_restorable_time": None, "new_identifier": "prod-db-restore-1", "new_instance_identifier": None,
    "instance_class": "db.t3.micro", "notes": [], "summary": "Restore snapshot rds:prod-db-2026-01-01 of instance prod-db to a NEW instance prod-db-restore-1",
}  # fmt: skip


def test_a_restore_journal_is_reported_generically(store):
    job, _ = repository.create_job(
        store, kind=JobKind.RESTORE, target="production", requested_by="ops", params={"action": "restore", "snapshot_id": "rds:prod-db-2026-01-01"}
    )
    repository.transition(store, job.id, JobState.RUNNING)
    record(store, job.id, "plan", PLAN)
    record(store, job.id, "start", {"action": "restore", "identifier": "prod-db-restore-1", "resumed": False})
    record(store, job.id, "poll:1", {"state": "creating", "status": "creating", "identifier": "prod-db-restore-1", "endpoint": None, "port": None})
    endpoint = {
        "state": "available",
        "status": "available",
        "identifier": "prod-db-restore-1",
        "endpoint": "prod-db-restore-1.example.rds.amazonaws.com",
        "port": 5432,
        "new_identifier": "prod-db-restore-1",
        "source": "prod-db",
    }
    record(store, job.id, "endpoint", endpoint)
    record(store, job.id, "snapshot_copy", {"copied_to": "eu-west-1"})  # a step this module does not know
    repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.PROCEED, reasons=["restored"], facts={"restore": {**endpoint, "plan": PLAN}})
    report = report_of(store, job.id)
    items = checklist(report)

    assert report.title == "Incident report: restore of production to prod-db-restore-1"
    assert report.migration is None and report.failure is None
    assert (report.restore.snapshot_id, report.restore.new_identifier) == ("rds:prod-db-2026-01-01", "prod-db-restore-1")
    assert report.restore.endpoint == "prod-db-restore-1.example.rds.amazonaws.com:5432"
    assert items["backup_accessible"][:2] == (True, finished_at(store, job.id, "plan"))
    assert items["backup_accessible"][2] == "snapshot rds:prod-db-2026-01-01 of prod-db exists and is available: checked with AWS when the restore was planned"
    for not_applicable in ("migration_identified", "sql_reviewed", "rollback_tested", "rollback_executed", "history_updated"):
        assert items[not_applicable][0] is None, not_applicable
    assert "the restore to a new instance started at" in items["rollback_executed"][2]
    assert items["functionality_verified"][0] is False
    assert "the instance is available at prod-db-restore-1.example.rds.amazonaws.com:5432" in items["functionality_verified"][2]
    # Read-only polls are not actions; an unknown step is, with its plain values.
    assert [a.step for a in report.actions] == ["start", "snapshot_copy"]
    assert report.actions[1].summary == "copied_to: eu-west-1"
    assert [e.step for e in report.timeline if e.event == "step_finished"] == ["plan", "start", "poll:1", "endpoint", "snapshot_copy"]
    assert "- Snapshot: rds:prod-db-2026-01-01" in markdown_lines(report)


def test_a_wait_that_ran_out_is_not_an_action_taken(store):
    """`cutover:stuck` and `snapshot:timed_out` record that AWS never finished: nothing was changed by them."""
    job, _ = repository.create_job(store, kind=JobKind.RESTORE, target="production", requested_by="ops", params={"action": "cutover"})
    repository.transition(store, job.id, JobState.RUNNING)
    record(store, job.id, "cutover:rename_old", {"identifier": "prod-db", "to": "prod-db-old-1"})
    record(store, job.id, "cutover:poll:1", {"state": "modifying"})
    record(store, job.id, "cutover:stuck", {"reason": "the rename of prod-db was not finished after 30 minutes"})
    repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=["the cut-over is stuck"])
    report = report_of(store, job.id)
    assert [a.step for a in report.actions] == ["cutover:rename_old"]
    assert "cutover:stuck" in [e.step for e in report.timeline if e.event == "step_finished"]


def test_a_restore_refused_before_planning_has_no_backup(store):
    job, _ = repository.create_job(
        store, kind=JobKind.RESTORE, target="production", requested_by="ops", params={"action": "restore", "snapshot_id": "rds:gone"}
    )
    repository.transition(store, job.id, JobState.RUNNING)
    repository.record_step(store, job.id, "plan", "started")
    repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=["there is no snapshot named rds:gone"])
    report = report_of(store, job.id)
    assert checklist(report)["backup_accessible"] == (
        False,
        None,
        "snapshot rds:gone was asked for, but the restore could not be planned: there is no snapshot named rds:gone",
    )
    assert [(a.step, a.outcome) for a in report.actions] == []
    assert report.timeline[-2].step == "plan" and report.timeline[-2].summary == "started"


def lint(local, severities, session_timeouts, prisma_version):
    return [finding.to_dict() for finding in lint_migrations(local, severities, session_timeouts, prisma_version=prisma_version)]


def gate_job(store, config, kind, scripts, **params):
    """A check or deploy job run as a worker runs it, with the real linter."""
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=kind, target="staging", requested_by="ci", params=params, bundle_digest=digest)
    return run_job(store, config, job.id, linter=lint)


def test_a_check_job_reports_each_migrations_state_and_the_lint_findings(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    job = gate_job(store, config, JobKind.CHECK, ADD_EMAIL, phase="post", commit="abc123", deployment_id="dpl_1")
    assert job.verdict is Verdict.BLOCKED
    report = report_of(store, job.id)
    document = report.to_dict()

    assert report.title == "Check report: staging at commit abc123"
    assert report.checklist == [] and document["checklist"] == []
    assert (document["job"]["commit"], document["job"]["deployment_id"], document["job"]["phase"]) == ("abc123", "dpl_1", "post")
    assert document["job"]["verdict"] == "blocked" and document["job"]["reasons"] == ["not applied: 20240102_add_email"]
    assert [(m.name, m.state, m.edited, m.sqlstate) for m in report.migrations] == [
        ("20240101_patients", "applied", False, None), ("20240102_add_email", "pending", False, None),
    ]  # fmt: skip
    rules = {(f.migration, f.rule, f.severity) for f in report.lint}
    # Info: the file is one transaction (a warning about the lock_timeout it lacks stays: the build applies it).
    assert {("20240102_add_email", "add-column-without-if-not-exists", "info"), ("20240102_add_email", "missing-lock-timeout", "warning")} <= rules
    assert all(f.line == 1 for f in report.lint if f.migration == "20240102_add_email")
    assert report.applied == [] and report.recovery is None and report.actions == []
    assert report.failure is None and report.decisions == [] and report.history is None
    assert [e.step for e in report.timeline if e.event == "step_finished"] == ["status", "lint", "notify:verdict_blocked"]

    lines = markdown_lines(report)
    assert lines[0] == "# Check report: staging at commit abc123"
    assert "| Verdict | blocked |" in lines and "| Phase | post |" in lines and "| Deployment | `dpl_1` |" in lines
    assert "- not applied: 20240102_add_email" in lines
    assert "| `20240102_add_email` | pending |  |" in lines and "| `20240101_patients` | applied |  |" in lines
    assert any(line.startswith("| `20240102_add_email` | 1 | `add-column-without-if-not-exists` | info | ") for line in lines)
    assert "None: a check applies nothing." in lines
    assert "## Recovery" not in lines and "## Migration Rollback Checklist" not in lines
    assert f"| {when(finished_at(store, job.id, 'status'))} | step_finished | `status` | history read: to deploy: 20240102_add_email |" in lines


def test_a_deploy_job_reports_the_migrations_it_applied(store, target_db):
    config = make_config(target_db)
    job = gate_job(store, config, JobKind.DEPLOY, ADD_EMAIL, apply=True, commit="def456")
    assert job.verdict is Verdict.PROCEED, job.reasons
    report = report_of(store, job.id)

    assert report.title == "Deploy report: staging at commit def456"
    assert report.checklist == []
    # The status step read the history before anything was applied.
    assert [(m.name, m.state) for m in report.migrations] == [("20240101_patients", "pending"), ("20240102_add_email", "pending")]
    assert [(a.migration, a.outcome) for a in report.applied] == [("20240101_patients", "finished"), ("20240102_add_email", "finished")]
    assert report.applied[1].finished_at == finished_at(store, job.id, "apply:20240102_add_email")
    assert report.recovery is None
    assert report.to_dict()["applied"][0] == {
        "migration": "20240101_patients", "started_at": report.applied[0].started_at.isoformat(),
        "finished_at": report.applied[0].finished_at.isoformat(), "outcome": "finished",
    }  # fmt: skip

    lines = markdown_lines(report)
    assert "| Verdict | proceed |" in lines and "| Commit | `def456` |" in lines
    assert f"- `20240102_add_email`: applied ({when(report.applied[1].finished_at)})" in lines
    assert "Outcome:" not in lines


def test_a_deploy_whose_apply_failed_points_to_its_recover_job(store, target_db):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    deployed, recovered = deploy_then_recover(store, config, {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'})
    report = report_of(store, deployed.id)

    assert repository.get_job(store, deployed.id).verdict is Verdict.BLOCKED
    assert report.recovery.job_id == recovered.id and report.recovery.at == finished_at(store, deployed.id, "recover")
    assert report.recovery.because.startswith("migration 20240102_name_required failed (23502: ")
    assert report.to_dict()["recovery"]["report_url"] == f"/v1/jobs/{recovered.id}/report"
    assert [(a.migration, a.outcome) for a in report.applied] == [("20240102_name_required", "failed")]
    assert report.checklist == []
    lines = markdown_lines(report)
    assert "## Recovery" in lines
    recovery = lines[lines.index("## Recovery") + 2]
    assert recovery.startswith(f"At {when(report.recovery.at)}, recover job `{recovered.id}` was started: migration 20240102_name_required failed (23502: ")
    assert recovery.endswith(f". Its verdict is this job's; its incident report: /v1/jobs/{recovered.id}/report.")
    assert "- `20240102_name_required`: failed (" in report.to_markdown()


def test_a_check_job_reports_a_failed_migration_with_its_sqlstate(store, target_db):
    config = make_config(target_db, max_automatic_retries=0)
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'}
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    deploy_job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    assert run_job(store, config, deploy_job.id).state is JobState.RUNNING  # its recover job is not run: the row stays failed
    job = gate_job(store, config, JobKind.CHECK, scripts, phase="pre")
    report = report_of(store, job.id)

    failed = [m for m in report.migrations if m.state == "failed"]
    assert [(m.name, m.sqlstate) for m in failed] == [("20240102_name_required", "23502")]
    assert 'column "name"' in failed[0].message
    assert report.to_dict()["migrations"][1]["sqlstate"] == "23502"
    assert line_starting(report, "| `20240102_name_required` | failed | 23502: ").endswith(" |")
    assert job.reasons[0].startswith("migration 20240102_name_required failed (23502: ")


@pytest.fixture
def drifted(store, target_db):
    """A target with a shadow (drift mode warn), one migration applied, an index added by hand.
    The history is the test's own (a comment), so its replay template is dropped afterwards."""
    marker = f"-- {target_db.name}\n"
    scripts = {"20240101_patients": marker + BASE["20240101_patients"]}
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000), shadow=parse_database_url(ADMIN_URL), drift=DriftSettings())
    config = Config({"staging": target}, ())
    assert gate_job(store, config, JobKind.DEPLOY, scripts, apply=True).verdict is Verdict.PROCEED
    target_db.query('CREATE INDEX "Patient_name_idx" ON "Patient" ("name")')
    yield config, scripts
    drop_template(history_keys(migrations_from_bundle(scripts), "public")[1])


DRIFT_LINE = '+ index "Patient_name_idx" ON "Patient" (name) — not in the migrations'


def test_a_check_jobs_report_shows_the_drift(store, drifted):
    config, scripts = drifted
    job = gate_job(store, config, JobKind.CHECK, scripts, phase="post")
    assert job.verdict is Verdict.PROCEED and f"drift: {DRIFT_LINE}" in job.reasons
    report = report_of(store, job.id)
    assert report.to_dict()["drift"] == {
        "mode": "warn", "checked": True, "drifted": True, "error": None, "differences": [DRIFT_LINE], "ignored": [], "applied": ["20240101_patients"],
        "schemas": ["public"], "notes": [], "new": None,
    }  # fmt: skip
    markdown = report.to_markdown()
    assert "## Drift\n\nCompared the target's schema public with the shadow's replay of its 1 applied migration; drift mode warn.\n" in markdown
    assert f"```diff\n{DRIFT_LINE}\n```" in markdown
    assert any(line.startswith("| ") and "| `drift` | drift: 1 difference: " + DRIFT_LINE.replace("|", "\\|") in line for line in markdown.splitlines())


def test_a_drift_jobs_report_is_the_drift_and_the_timeline(store, drifted):
    config, _ = drifted
    job, _ = repository.create_job(
        store, kind=JobKind.DRIFT, target="staging", requested_by="schedule", bundle_digest=repository.latest_bundle_digest(store, "staging")
    )
    done = run_job(store, config, job.id)
    report = report_of(store, done.id)
    assert report.title == "Drift report: staging" and report.checklist == [] and report.drift.new == [DRIFT_LINE]
    markdown = report.to_markdown()
    assert "## Migrations" not in markdown and "## Applied" not in markdown and "| Migration |" not in markdown
    assert f"New since the previous drift check (notified as `drift_detected`):\n\n```diff\n{DRIFT_LINE}\n```" in markdown
    assert "## Timeline" in markdown
