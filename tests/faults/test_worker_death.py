"""A worker killed (SIGKILL) in the middle of a deploy: the job finishes once, no migration twice,
and the real Prisma CLI reads the history as deploy-gate does."""

import os
import signal

import pytest
import redis

from service.config.settings import Settings
from service.http import create_app
from service.store import repository
from tests.broker import sending_through
from tests.contract import ContractClient
from tests.faults.checks import ended_once, prisma_agrees
from tests.service.prisma.history_helpers import history_rows
from tests.workers.processes import start_worker, stop, wait_until
from workers.celery_app import make_celery

pytestmark = pytest.mark.faults

AUTH = {"Authorization": "Bearer ci-token"}
MIGRATIONS = [
    {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240102_slow_visits", "sql": 'SELECT pg_sleep(3);\nCREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240103_notes", "sql": 'CREATE TABLE "Note" ("id" SERIAL PRIMARY KEY);'},
]
VISIBILITY_TIMEOUT = 3


@pytest.fixture
def real_worker_env(service_env, monkeypatch):
    monkeypatch.setenv("DEPLOY_GATE_VISIBILITY_TIMEOUT", str(VISIBILITY_TIMEOUT))
    # A redelivered message resumes a killed worker's job once that worker's heartbeat is stale
    # (until then it looks like a live worker's job): seconds here, 30 s by default.
    monkeypatch.setenv("DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("DEPLOY_GATE_WORKER_STALE_SECONDS", "3")
    redis.Redis.from_url(os.environ["DEPLOY_GATE_BROKER_URL"]).flushdb()
    yield
    redis.Redis.from_url(os.environ["DEPLOY_GATE_BROKER_URL"]).flushdb()


def test_killed_worker_job_finishes_once(real_worker_env, scratch_db, target_db, tmp_path):
    producer = make_celery(Settings.from_env())
    app = create_app(Settings.from_env(), enqueue=sending_through(producer))
    app.test_client_class = ContractClient
    client = app.test_client()
    first = start_worker()
    try:
        response = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
        job_id = response.get_json()["id"]
        with scratch_db.connect() as store:

            def slow_migration_started():
                return any(e.step == "apply:20240102_slow_visits" and e.kind == "step_started" for e in repository.job_events(store, job_id))

            assert wait_until(slow_migration_started), "the worker never reached the slow migration"
            stop(first, signal.SIGKILL)
            assert repository.get_job(store, job_id).verdict is None  # no verdict while no worker runs it

            # The message was never acknowledged: once its visibility timeout passes, a new
            # worker gets it again and resumes the job.
            second = start_worker()
            try:
                finished = wait_until(lambda: repository.get_job(store, job_id).state.value == "succeeded", 60)
                assert finished, (repository.get_job(store, job_id), [(e.kind, e.step, e.to_state, e.data) for e in repository.job_events(store, job_id)])
            finally:
                stop(second)
            job = repository.get_job(store, job_id)
            ended_once(store, job_id)
            events = repository.job_events(store, job_id)
    finally:
        stop(first, signal.SIGKILL)
        app.extensions["deploy_gate"].pool.close()

    assert job.verdict.value == "proceed", job.reasons
    # What a person reads: the migration the dead worker was applying, and how it was settled (a
    # killed client does not always stop its statement: PostgreSQL may have committed it).
    settled = [e.data for e in events if e.step == "apply:20240102_slow_visits" and e.data.get("interrupted")]
    assert len(settled) == 1 and settled[0]["resolution"] in (
        "marked rolled back: no effect is present",
        "finished: every effect is present",
    ), settled
    with target_db.connect() as conn:
        rows = history_rows(conn)
        tables = {name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    applied = [row["migration_name"] for row in rows if row["finished_at"] and row["rolled_back_at"] is None]
    assert applied == ["20240101_patients", "20240102_slow_visits", "20240103_notes"]
    interrupted = [row for row in rows if row["migration_name"] == "20240102_slow_visits" and row["rolled_back_at"]]
    assert len(interrupted) <= 1 and all(row["applied_steps_count"] == 1 for row in rows if row["finished_at"])
    assert {"Patient", "Visit", "Note"} <= tables
    assert sum(1 for row in rows if row["migration_name"] == "20240101_patients") == 1
    prisma_agrees(target_db.url, MIGRATIONS, tmp_path / "prisma" / "migrations")


def test_killed_worker_in_the_middle_of_a_recovery_retry(real_worker_env, scratch_db, target_db, tmp_path):
    """A transient failure, a recover job retrying it, its worker killed inside the retry's script:
    the job resumes on another worker and ends `proceed`, the migration applied exactly once."""
    producer = make_celery(Settings.from_env())
    app = create_app(Settings.from_env(), enqueue=sending_through(producer))
    client = app.test_client()
    slow = {"name": "20240102_slow_email", "sql": 'SELECT pg_sleep(3);\nALTER TABLE "Patient" ADD COLUMN "email" TEXT;'}
    first = start_worker()
    holder = None
    try:
        response = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": [MIGRATIONS[0], slow]}, headers=AUTH)
        deploy_id = response.get_json()["id"]
        with scratch_db.connect() as store:

            def step(job_id, name, kind):
                return any(e.step == name and e.kind == kind for e in repository.job_events(store, job_id))

            # While the first run sleeps, another session takes the table: its ALTER times out (55P03).
            assert wait_until(lambda: step(deploy_id, "apply:20240102_slow_email", "step_started"))
            holder = target_db.connect()
            holder.execute("BEGIN")
            holder.execute('LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE')
            assert wait_until(lambda: step(deploy_id, "apply:20240102_slow_email", "step_failed"))
            holder.execute("ROLLBACK")
            assert wait_until(lambda: step(deploy_id, "recover", "step_finished"))
            recover_id = repository.finished_steps(store, deploy_id)["recover"]["job"]

            # The recover job decides to retry; kill its worker inside the retry's script.
            assert wait_until(lambda: step(recover_id, "apply:20240102_slow_email", "step_started"))
            stop(first, signal.SIGKILL)
            assert repository.get_job(store, deploy_id).verdict is None and repository.get_job(store, recover_id).verdict is None
            second = start_worker()
            try:
                assert wait_until(lambda: repository.get_job(store, deploy_id).verdict is not None, 90), [
                    (e.kind, e.step, e.data) for e in repository.job_events(store, recover_id)
                ]
            finally:
                stop(second)
            deploy_job, recover_job = repository.get_job(store, deploy_id), repository.get_job(store, recover_id)
            ended_once(store, deploy_id)
            ended_once(store, recover_id)
    finally:
        stop(first, signal.SIGKILL)
        if holder is not None:
            holder.close()
        app.extensions["deploy_gate"].pool.close()

    assert recover_job.verdict.value == "proceed", recover_job.reasons
    assert deploy_job.verdict.value == "proceed"
    assert recover_job.facts["decide:1"]["action"] == "retry"
    with target_db.connect() as conn:
        rows = [row for row in history_rows(conn) if row["migration_name"] == "20240102_slow_email"]
        columns = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'").fetchone()[0]
    assert sum(1 for row in rows if row["finished_at"] and not row["rolled_back_at"]) == 1
    assert all(row["rolled_back_at"] for row in rows if not row["finished_at"])
    assert columns == 1
    prisma_agrees(target_db.url, [MIGRATIONS[0], slow], tmp_path / "prisma" / "migrations")
