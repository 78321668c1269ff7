"""The retention beat task, sent through the broker to a worker started as `make run` starts it."""

import json
import os
import signal
import time

from service.config.settings import Settings
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.workers.processes import start_worker
from workers.celery_app import make_celery
from workers.tasks import PRUNE_STORE_TASK


def test_the_beat_task_prunes_the_store_in_a_worker_and_logs_what_it_deleted(service_env, scratch_db, tmp_path, monkeypatch):
    with scratch_db.connect() as store:
        old, recent = (repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")[0] for _ in range(2))
        for job in (old, recent):
            repository.transition(store, job.id, JobState.RUNNING)
            repository.transition(store, job.id, JobState.FAILED)
        store.execute("UPDATE job SET finished_at = now() - interval '401 days' WHERE id = %s", (old.id,))
    monkeypatch.setenv("DEPLOY_GATE_LOG_LEVEL", "info")
    app = make_celery(Settings.from_env(), set_as_current=False)
    assert app.conf.beat_schedule["prune-store"]["task"] == PRUNE_STORE_TASK
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = start_worker(stderr=output)
    try:
        app.send_task(PRUNE_STORE_TASK)
        line = wait_for_line(log, "retention pruned", seconds=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        app.close()
    # Jobs: one batch, then an empty one; deliveries and bundles: one short batch each.
    assert line["pruned"] == {"jobs": 1, "events": 3, "reports": 0, "deliveries": 0, "bundles": 0, "batches": 4}
    assert "1 job(s) with 3 journal event(s)" in line["event"]
    assert {str(row[0]) for row in scratch_db.query("SELECT id FROM job")} == {recent.id}


def wait_for_line(log, text, *, seconds):
    """The worker's first JSON log line whose message holds `text`, once it is written."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for raw in log.read_text().splitlines():
            if raw.startswith("{") and text in raw:
                return json.loads(raw)
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} line in the worker's log within {seconds} s:\n{log.read_text()[-2000:]}")
