"""The drift schedule's beat task, sent through the broker to a worker started as `make run` starts it:
it starts a drift job, and the worker runs it against the real target and shadow server."""

import os
import signal
import time
import uuid
from pathlib import Path

from service.analysis.replay import history_keys
from service.config.settings import Settings
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.replays import drop_template
from tests.workers.processes import start_worker
from workers.celery_app import make_celery
from workers.tasks import SCHEDULE_DRIFT_TASK


def test_the_beat_task_starts_a_drift_job_that_a_worker_runs(service_env, scratch_db, target_db, monkeypatch):
    marker = uuid.uuid4().hex[:10]  # the test's own history, so its replay templates are its own
    local = migrations_from_bundle({"20240101_patients": f'-- {marker}\nCREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "email" TEXT);\n'})
    with target_db.connect() as conn:
        assert deploy(conn, "public", local).failure is None
        conn.execute('CREATE INDEX "Patient_email_idx" ON "Patient" ("email")')
    with scratch_db.connect() as store:  # the bundle a scheduled check replays: the target's last
        repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci", bundle_digest=repository.store_bundle(store, local))
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    config_file.write_text(
        config_file.read_text().replace(
            "[targets.staging.policy]", 'shadow_url_env = "DRIFT_SHADOW_URL"\n\n[targets.staging.drift]\nschedule_minutes = 5\n\n[targets.staging.policy]'
        )
    )
    monkeypatch.setenv("DRIFT_SHADOW_URL", ADMIN_URL)

    app = make_celery(Settings.from_env(), set_as_current=False)
    assert app.conf.beat_schedule["schedule-drift-checks"]["task"] == SCHEDULE_DRIFT_TASK
    worker = start_worker()
    try:
        app.send_task(SCHEDULE_DRIFT_TASK)
        job = wait_for_drift_job(scratch_db, seconds=90)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        app.close()
        drop_template(history_keys(local, "public")[1])
    assert (job.state, job.verdict, job.requested_by) == (JobState.SUCCEEDED, Verdict.PROCEED, "schedule")
    assert job.facts["drift"]["new"] == ['+ index "Patient_email_idx" ON "Patient" (email) — not in the migrations']
    assert job.reasons[1] == 'drift: + index "Patient_email_idx" ON "Patient" (email) — not in the migrations'
    # No webhook is configured to tell: the journal says so rather than nothing.
    with scratch_db.connect() as store:
        assert repository.finished_steps(store, job.id)["notify:drift_detected"]["handoff"] == "not_configured"


def wait_for_drift_job(store_db, *, seconds):
    """The drift job beat's task started, once a worker has run it to the end."""
    deadline = time.monotonic() + seconds
    with store_db.connect() as store:
        while time.monotonic() < deadline:
            found = repository.list_jobs(store, kind=JobKind.DRIFT, limit=1)
            if found and found[0].state in (JobState.SUCCEEDED, JobState.FAILED):
                return found[0]
            time.sleep(0.3)
    raise AssertionError(f"no drift job ended within {seconds} s")
