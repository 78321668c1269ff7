"""Drift in jobs: the step of check and deploy jobs, its modes, drift jobs and their notification, the schedule.

Real target and store databases; the shadow server is the same local PostgreSQL (its replays are
template databases there, dropped after each test).
"""

import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from service.analysis.replay import history_keys
from service.config.records import Config, DriftMode, DriftSettings, Policy, Target
from service.jobs.drift import start_due_drift_checks
from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.notifications import Handoff
from service.prisma.database import parse_database_url
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.replays import drop_templates
from tests.service.prisma.history_helpers import history_rows


@pytest.fixture
def name():
    """A target name of the test's own: its replays are labelled with it, and dropped afterwards."""
    label = f"drift-{uuid.uuid4().hex[:10]}"
    yield label
    drop_templates(f'"label": "{label}"')


@pytest.fixture
def bundle(name):
    # A comment of the test's own makes its history, and so its replay templates, its own.
    return {
        "20240101_patients": f'-- {name}\nCREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n',
        "20240102_visits": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "patientId" INT REFERENCES "Patient"("id"));\n',
    }


def make_config(target_db, name, shadow=ADMIN_URL, **drift):
    settings = DriftSettings(**drift)
    target = Target(
        name, parse_database_url(target_db.url), Policy(lock_timeout_ms=2000), shadow=parse_database_url(shadow) if shadow else None, drift=settings
    )
    return Config({name: target}, ())


def queue(store, name, scripts, kind=JobKind.DEPLOY, **params):
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=kind, target=name, requested_by="ci", params=params, bundle_digest=digest)
    return job


def deployed(store, config, name, scripts):
    job = run_job(store, config, queue(store, name, scripts).id)
    assert job.verdict is Verdict.PROCEED, job.reasons
    return job


def drift_lines(job):
    return [difference["text"] for difference in job.facts["drift"]["differences"]]


def test_without_drift_a_check_proceeds_and_records_the_comparison(store, target_db, name, bundle):
    config = make_config(target_db, name)
    deployed(store, config, name, bundle)
    job = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="post").id)
    assert (job.verdict, job.reasons) == (Verdict.PROCEED, [])
    drift = job.facts["drift"]
    assert (drift["checked"], drift["drifted"], drift["mode"]) == (True, False, "warn")
    assert drift["applied"] == list(bundle) and drift["schemas"] == ["public"]


def test_warn_lets_the_check_proceed_with_the_drift_among_the_reasons(store, target_db, name, bundle):
    config = make_config(target_db, name)
    deployed(store, config, name, bundle)
    target_db.query('CREATE INDEX "Patient_email_idx" ON "Patient" ("email")')
    job = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="post").id)
    assert job.verdict is Verdict.PROCEED
    assert job.reasons == [
        "drift: the target's schema differs from its applied migrations in 1 object (drift mode warn: this alone does not block)",
        'drift: + index "Patient_email_idx" ON "Patient" (email) — not in the migrations',
    ]
    assert job.facts["drift"]["differences"][0]["name"] == "public.Patient_email_idx"


def test_block_blocks_the_check_and_a_deploy_before_it_applies_anything(store, target_db, name, bundle):
    first = dict(list(bundle.items())[:1])
    config = make_config(target_db, name, mode=DriftMode.BLOCK)
    deployed(store, config, name, first)
    target_db.query('ALTER TABLE "Patient" ALTER COLUMN "email" DROP NOT NULL')
    check = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="pre").id)
    assert check.verdict is Verdict.BLOCKED
    assert check.reasons[-1] == 'drift: ~ column "Patient".email: NOT NULL in the migrations, nullable on the target'

    deploy = run_job(store, config, queue(store, name, bundle).id)
    assert deploy.verdict is Verdict.BLOCKED and "apply" not in deploy.facts
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == list(first)  # the pending one was not applied
    # A pending migration is not drift: only the applied one was replayed.
    assert deploy.facts["drift"]["applied"] == list(first)


def test_warn_lets_a_deploy_apply_and_keeps_the_drift_among_its_reasons(store, target_db, name, bundle):
    first = dict(list(bundle.items())[:1])
    config = make_config(target_db, name)
    deployed(store, config, name, first)
    target_db.query('CREATE TABLE "Audit" ("id" INT PRIMARY KEY)')
    job = run_job(store, config, queue(store, name, bundle).id)
    assert job.verdict is Verdict.PROCEED and job.facts["apply"]["applied"] == ["20240102_visits"]
    assert 'drift: + table "Audit" (1 column, 1 constraint, 1 index) — not in the migrations' in job.reasons


def test_ignore_patterns_leave_out_what_other_tools_add(store, target_db, name, bundle):
    config = make_config(target_db, name, ignore=("table:pgbouncer_*", "*_tmp_idx"))
    deployed(store, config, name, bundle)
    target_db.query('CREATE TABLE "pgbouncer_stats" ("n" INT); CREATE INDEX "email_tmp_idx" ON "Patient" ("email")')
    job = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="post").id)
    assert (job.verdict, job.reasons) == (Verdict.PROCEED, [])
    ignored = {(d["name"], d["ignored_by"]) for d in job.facts["drift"]["ignored"]}
    assert ignored == {("public.pgbouncer_stats", "table:pgbouncer_*"), ("public.email_tmp_idx", "*_tmp_idx")}


def test_mode_ignore_and_a_target_without_a_shadow_run_no_drift_step(store, target_db, name, bundle):
    for config in (make_config(target_db, name, mode=DriftMode.IGNORE), make_config(target_db, name, shadow=None)):
        job = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="pre").id)
        assert job.verdict is Verdict.PROCEED and "drift" not in job.facts


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_shadow_is_a_reason_under_warn_and_waited_for_under_block(store, target_db, name, bundle):
    port = closed_port()
    down = f"postgresql://postgres:hunter2@127.0.0.1:{port}/postgres"
    warn = run_job(store, make_config(target_db, name, shadow=down), queue(store, name, bundle, JobKind.CHECK, phase="pre").id)
    assert warn.verdict is Verdict.PROCEED
    assert warn.reasons == [f"drift not checked: shadow unreachable: connection refused by 127.0.0.1:{port}"]
    assert "hunter2" not in str(warn.facts)

    blocking = queue(store, name, bundle, JobKind.CHECK, phase="pre")
    with pytest.raises(Deferred):
        run_job(store, make_config(target_db, name, shadow=down, mode=DriftMode.BLOCK), blocking.id)
    assert "wait_for_shadow:1" in repository.finished_steps(store, blocking.id)


def test_the_replay_is_reused_until_the_history_changes(store, target_db, name, bundle):
    first = dict(list(bundle.items())[:1])
    config = make_config(target_db, name)
    deployed(store, config, name, first)
    checks = [run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="pre").id).facts["drift"]["replay"] for _ in range(2)]
    assert checks[0]["template"] == checks[1]["template"] and checks[1]["built"] is False

    with target_db.connect() as conn:  # applied by another tool: nothing of ours has replayed it yet
        assert deploy(conn, "public", migrations_from_bundle(bundle)).failure is None
    after = run_job(store, config, queue(store, name, bundle, JobKind.CHECK, phase="post").id).facts["drift"]
    assert after["replay"] == {"template": history_keys(migrations_from_bundle(bundle), "public")[2], "built": True}
    assert after["applied"] == list(bundle) and after["drifted"] is False


def test_a_drift_job_notifies_only_drift_that_is_new(store, target_db, name, bundle):
    config = make_config(target_db, name, schedule_minutes=60)
    deployed(store, config, name, bundle)
    told = []

    def notify(kind, job, **details):
        told.append((kind, job.id, details))
        return Handoff.ENQUEUED

    def drift_job():
        job, _ = repository.create_job(
            store, kind=JobKind.DRIFT, target=name, requested_by="schedule", bundle_digest=repository.latest_bundle_digest(store, name)
        )
        return run_job(store, config, job.id, notify=notify)

    clean = drift_job()
    assert (clean.verdict, clean.facts["drift"]["new"], told) == (Verdict.PROCEED, [], [])

    target_db.query('CREATE INDEX "Patient_email_idx" ON "Patient" ("email")')
    found = drift_job()
    index = '+ index "Patient_email_idx" ON "Patient" (email) — not in the migrations'
    assert found.verdict is Verdict.PROCEED and found.facts["drift"]["previous_job"] == clean.id
    assert told == [("drift_detected", found.id, {"new": [index], "differences": 1})]

    again = drift_job()
    assert again.facts["drift"]["new"] == [] and len(told) == 1  # the same drift is told once

    target_db.query('ALTER TABLE "Patient" ADD COLUMN "nickname" TEXT')
    more = drift_job()
    assert [kind for kind, _, _ in told] == ["drift_detected", "drift_detected"]
    assert told[-1] == ("drift_detected", more.id, {"new": ['+ column "Patient".nickname text — not in the migrations'], "differences": 2})


def test_a_blocking_drift_job_tells_drift_detected_not_verdict_blocked(store, target_db, name, bundle):
    config = make_config(target_db, name, mode=DriftMode.BLOCK, schedule_minutes=5)
    deployed(store, config, name, bundle)
    target_db.query('DROP TABLE "Visit"')
    told = []
    job, _ = repository.create_job(store, kind=JobKind.DRIFT, target=name, requested_by="schedule", bundle_digest=repository.latest_bundle_digest(store, name))
    done = run_job(store, config, job.id, notify=lambda kind, job, **details: told.append(kind) or Handoff.ENQUEUED)
    assert done.verdict is Verdict.BLOCKED and told == ["drift_detected"]
    assert done.reasons[1].startswith('drift: - table "Visit" (2 columns, 2 constraints, 1 index, 1 sequence)')


def test_the_schedule_starts_one_drift_job_per_period_and_none_while_one_is_active(store, target_db, name, bundle):
    config = make_config(target_db, name, schedule_minutes=30)
    now = datetime(2026, 12, 5, 10, 1, tzinfo=UTC)
    assert start_due_drift_checks(store, config, now) == []  # no bundle stored for it yet: nothing to replay

    digest = repository.store_bundle(store, migrations_from_bundle(bundle))
    repository.create_job(store, kind=JobKind.CHECK, target=name, requested_by="ci", bundle_digest=digest)
    (started,) = start_due_drift_checks(store, config, now)
    assert (started.kind, started.state, started.bundle_digest, started.requested_by) == (JobKind.DRIFT, JobState.QUEUED, digest, "schedule")
    assert start_due_drift_checks(store, config, now + timedelta(minutes=40)) == []  # the first still waits for a worker

    assert run_job(store, config, started.id).state is JobState.SUCCEEDED
    assert start_due_drift_checks(store, config, now + timedelta(minutes=10)) == []  # the same period
    (following,) = start_due_drift_checks(store, config, now + timedelta(minutes=40))
    assert following.id != started.id


def test_a_target_that_checks_no_drift_is_not_scheduled(store, target_db, name, bundle):
    repository.store_bundle(store, migrations_from_bundle(bundle))
    for config in (make_config(target_db, name), make_config(target_db, name, mode=DriftMode.IGNORE, schedule_minutes=5)):
        assert start_due_drift_checks(store, config, datetime.now(UTC)) == []
