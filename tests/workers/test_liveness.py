"""Worker liveness with real worker processes: heartbeats in the store, a dead worker's job resumed by
the reconciler (run by a real beat) within seconds, a live worker's job never run twice, readiness."""

import os
import signal
import time

import pytest
import redis

from service.config.settings import Settings
from service.http import create_app
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.broker import sending_through
from tests.contract import ContractClient
from tests.service.prisma.history_helpers import history_rows
from tests.workers.processes import start_worker, stop, wait_until
from tests.workers.test_tasks import AUTH
from workers.broker import Broker
from workers.celery_app import make_celery

PATIENTS = {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}
NOTES = {"name": "20240103_notes", "sql": 'CREATE TABLE "Note" ("id" SERIAL PRIMARY KEY);'}
# Heartbeats every second, dead after 3 s, the reconciler every second: what takes 30 to 45 s by default.
HEARTBEAT_SECONDS, STALE_SECONDS, RECONCILE_SECONDS = 1, 3, 1


@pytest.fixture
def short_liveness(service_env, monkeypatch, tmp_path):
    """Short liveness intervals, and a visibility timeout of an hour: the broker never hands a dead
    worker's message on during a test, so only the reconciler can resume its job."""
    monkeypatch.setenv("DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS", str(HEARTBEAT_SECONDS))
    monkeypatch.setenv("DEPLOY_GATE_WORKER_STALE_SECONDS", str(STALE_SECONDS))
    monkeypatch.setenv("DEPLOY_GATE_RECONCILE_SECONDS", str(RECONCILE_SECONDS))
    monkeypatch.setenv("DEPLOY_GATE_VISIBILITY_TIMEOUT", "3600")
    broker = redis.Redis.from_url(os.environ["DEPLOY_GATE_BROKER_URL"])
    broker.flushdb()
    producer = make_celery(Settings.from_env(), set_as_current=False)
    app = create_app(Settings.from_env(), enqueue=sending_through(producer))
    app.test_client_class = ContractClient
    yield app, producer, tmp_path
    app.extensions["deploy_gate"].close()
    producer.close()
    broker.flushdb()


def with_beat(tmp_path):
    """A worker's flags to run the beat (the reconciler) in it too, as `make run` does."""
    return ("--beat", f"--schedule={tmp_path / 'beat-schedule'}")


def journal(store, job_id):
    return repository.job_events(store, job_id)


def step_events(store, job_id, kind):
    return [event.step for event in journal(store, job_id) if event.kind == kind]


def test_a_killed_workers_job_is_resumed_by_the_reconciler_in_seconds_and_finishes_once(short_liveness, scratch_db, target_db):
    app, _, tmp_path = short_liveness
    slow = {"name": "20240102_slow_visits", "sql": 'SELECT pg_sleep(3);\nCREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'}
    client = app.test_client()
    # Prefork, one child, as the Procfile runs it: the child that runs the job records the heartbeat.
    first = start_worker("--pool=prefork", "--concurrency=1")
    second = None
    try:
        job_id = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": [PATIENTS, slow, NOTES]}, headers=AUTH).get_json()["id"]
        with scratch_db.connect() as store:
            assert wait_until(lambda: "apply:20240102_slow_visits" in step_events(store, job_id, "step_started")), "the worker never reached the slow migration"
            worker_id = store.execute("SELECT worker_id FROM job WHERE id = %s", (job_id,)).fetchone()[0]
            assert worker_id is not None and store.execute("SELECT count(*) FROM worker WHERE id = %s", (worker_id,)).fetchone()[0] == 1
            stop(first, signal.SIGKILL)
            killed_at = time.monotonic()

            second = start_worker(*with_beat(tmp_path))
            resumed = wait_until(lambda: any(event.kind == "note" and event.data.get("worker") == worker_id for event in journal(store, job_id)), 30)
            resumed_after = time.monotonic() - killed_at
            assert resumed, [(e.kind, e.step, e.data) for e in journal(store, job_id)]
            assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), [
                (e.kind, e.step, e.data) for e in journal(store, job_id)
            ]
            job = repository.get_job(store, job_id)
            events = journal(store, job_id)
            released = store.execute("SELECT worker_id FROM job WHERE id = %s", (job_id,)).fetchone()[0]
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            stop(second)

    # The heartbeat went stale after 3 s, the reconciler runs every second: well inside 60 s (the
    # default intervals give at most 30 + 15 s), with time for the second worker to start.
    assert resumed_after < 20, resumed_after
    note = next(event for event in events if event.kind == "note")
    assert note.data["message"].startswith(f"worker {worker_id} stopped (no heartbeat for ") and "resumes on another worker" in note.data["message"]
    assert job.verdict.value == "proceed", job.reasons
    assert released is None  # the task that finished it let it go
    finished = [event.step for event in events if event.kind == "step_finished"]
    assert len(finished) == len(set(finished)), finished  # no step finished twice
    with target_db.connect() as conn:
        rows = history_rows(conn)
        tables = {name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    applied = [row["migration_name"] for row in rows if row["finished_at"] and row["rolled_back_at"] is None]
    assert applied == ["20240101_patients", "20240102_slow_visits", "20240103_notes"]  # each migration applied once
    assert {"Patient", "Visit", "Note"} <= tables


def test_a_live_workers_job_is_neither_resumed_nor_run_twice(short_liveness, scratch_db, target_db):
    """A job running longer than the stale age, on a worker whose heartbeat is fresh: the reconciler
    (running meanwhile: it resumes a dead worker's job) leaves it alone, and a second message for it
    (a redelivery) is put off by the other worker instead of running it at the same time."""
    app, producer, tmp_path = short_liveness
    slow = {"name": "20240102_slow_visits", "sql": 'SELECT pg_sleep(8);\nCREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'}
    client = app.test_client()
    other_log = tmp_path / "other-worker.log"
    running = start_worker(*with_beat(tmp_path))
    other = None
    try:
        job_id = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": [PATIENTS, slow, NOTES]}, headers=AUTH).get_json()["id"]
        with scratch_db.connect() as store:
            assert wait_until(lambda: "apply:20240102_slow_visits" in step_events(store, job_id, "step_started"))
            with other_log.open("wb") as log:
                other = start_worker(stderr=log)  # free to take whatever comes: the duplicate, the reconciler's tasks
            # A job whose worker is gone, so there is evidence the reconciler ran while the slow step did.
            orphan, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
            repository.transition(store, orphan.id, JobState.RUNNING)
            store.execute("UPDATE job SET worker_id = 'gone:1:dead' WHERE id = %s", (orphan.id,))
            Broker(producer).enqueue(job_id)  # a duplicate message, as a redelivery would send
            assert wait_until(lambda: f"job {job_id} waits {STALE_SECONDS} s: it runs on worker " in other_log.read_text(), 30), other_log.read_text()
            assert wait_until(lambda: any(event.kind == "note" for event in journal(store, orphan.id)), 30)
            assert "apply:20240102_slow_visits" not in step_events(store, job_id, "step_finished")  # the reconciler ran while the step did
            assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60)
            job = repository.get_job(store, job_id)
            events = journal(store, job_id)
    finally:
        stop(running)
        if other is not None:
            stop(other)

    assert job.verdict.value == "proceed", job.reasons
    assert [event for event in events if event.kind == "note"] == []  # never taken from its live worker
    started = [event.step for event in events if event.kind == "step_started"]
    assert len(started) == len(set(started)), started  # each step started once: never run twice at once
    assert [event.to_state for event in events if event.kind == "transition"] == ["queued", "running", "succeeded"]
    with target_db.connect() as conn:
        applied = [row["migration_name"] for row in history_rows(conn)]
    assert applied == ["20240101_patients", "20240102_slow_visits", "20240103_notes"]


def test_readiness_follows_the_workers_heartbeats(short_liveness, scratch_db):
    app, _, _ = short_liveness
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["workers"] == "none alive"
    worker = start_worker()
    try:
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
    finally:
        stop(worker)  # a clean stop removes its heartbeat: not ready at once
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["workers"] == "none alive"

    killed = start_worker()
    try:
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
    finally:
        stop(killed, signal.SIGKILL)
    # A killed worker says nothing: its heartbeat goes stale after STALE_SECONDS.
    assert wait_until(lambda: client.get("/readyz").status_code == 503, STALE_SECONDS + 10)
    assert scratch_db.query("SELECT count(*) FROM worker") == [(1,)]


def test_the_reconciler_runs_as_often_as_the_settings_say(short_liveness):
    _, producer, _ = short_liveness
    assert producer.conf.beat_schedule["reconcile-jobs"]["schedule"] == RECONCILE_SECONDS
    assert make_celery(Settings.from_env({}), set_as_current=False).conf.beat_schedule["reconcile-jobs"]["schedule"] == 15.0


def test_a_stopped_worker_process_leaves_no_heartbeat_behind(short_liveness, scratch_db):
    """A worker stopped with SIGTERM finishes and deletes its row; the row was its own (host and pid)."""
    worker = start_worker()
    try:
        assert wait_until(lambda: scratch_db.query("SELECT count(*) FROM worker") == [(1,)], 30)
        hostname, pid = scratch_db.query("SELECT hostname, pid FROM worker")[0]
        assert pid == worker.pid and hostname == os.uname().nodename
    finally:
        stop(worker)
    assert scratch_db.query("SELECT count(*) FROM worker") == [(0,)]
