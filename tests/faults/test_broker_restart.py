"""The broker (Redis) killed and started again empty, with jobs queued and a job deferred.

The broker is a `redis-server` of this module's own, with no persistence (as docker-compose runs
it), so what it held is gone after the restart: the queued messages and the deferred one. The
jobs are safe in the store; the reconciler (the beat, in a real worker process) sends each lost
message again once it is overdue, and each job finishes once. While the broker is down the API
still takes deploys (202: they wait in the store) and /readyz says the broker is the trouble.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service.jobs.states import JobState
from service.prisma.deploy import deploy
from service.prisma.migrations import read_migrations_directory
from service.store import repository
from tests.conftest import write_migrations_directory
from tests.faults.checks import applied_once, ended_once, journal, prisma_agrees
from tests.faults.servers import OwnRedis
from tests.workers.processes import wait_until
from tests.workers.test_tasks import AUTH

pytestmark = pytest.mark.faults

MIGRATIONS = [
    {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240102_visits", "sql": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'},
]
NAMES = [migration["name"] for migration in MIGRATIONS]
LOST_NOTE = "no worker took this job's message "


@pytest.fixture(scope="module")
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def broker_url(own_redis) -> str:
    own_redis.ensure_running()  # a test may have left it down
    return own_redis.url


def lost_notes(store, job_id) -> list[str]:
    """The notes saying the job's message was sent again; asserted to be the job's only notes."""
    notes = [e.data["message"] for e in repository.job_events(store, job_id) if e.kind == "note"]
    assert all(note.startswith(LOST_NOTE) and note.endswith(": sent again") for note in notes), notes
    return notes


def test_jobs_queued_when_the_broker_restarts_empty_each_finish_once(gate, workers, own_redis, scratch_db, target_db, tmp_path):
    deploy_request = {"target": "staging", "apply": True, "migrations": MIGRATIONS}
    queued = [gate.post("/v1/deploys", json=deploy_request, headers=AUTH).get_json()["id"] for _ in range(3)]
    assert own_redis.keys() > 0  # their messages wait for a worker
    own_redis.kill()

    # While the broker is down: a deploy is still taken (it waits in the store), readiness names the broker.
    started = time.monotonic()
    response = gate.post("/v1/deploys", json=deploy_request, headers=AUTH)
    assert response.status_code == 202 and time.monotonic() - started < 5
    queued.append(response.get_json()["id"])
    ready = gate.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["broker"] != "ok", ready.get_json()
    assert ready.get_json()["detail"] == "A dependency is unreachable."
    assert {gate.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()["state"] for job_id in queued} == {"queued"}

    own_redis.start()
    assert own_redis.keys() == 0  # every message is gone
    workers(beat=True)
    with scratch_db.connect() as store:
        for job_id in queued:
            assert wait_until(lambda job_id=job_id: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), journal(store, job_id)
            ended_once(store, job_id)
            job = repository.get_job(store, job_id)
            assert job.verdict is not None and job.verdict.value == "proceed", job.reasons
            # What a person reading the job sees: why it waited, and that it was sent again (again
            # each time it waited that long more behind the others: a duplicate that is dropped).
            assert lost_notes(store, job_id), journal(store, job_id)
    with target_db.connect() as conn:
        applied_once(conn, NAMES)
    prisma_agrees(target_db.url, MIGRATIONS, tmp_path / "prisma" / "migrations")
    assert gate.get("/readyz").status_code == 200


def test_a_deferred_job_whose_message_the_restart_lost_is_sent_again_and_finishes_once(gate, workers, own_redis, scratch_db, target_db, tmp_path):
    """The defect this suite found: a job between two runs (here waiting for a table lock another
    session holds on the target) has its next run only in the broker. The broker restarted empty,
    the reconciler sends it again once it is overdue: seconds, not 15 minutes."""
    with target_db.connect() as conn:
        deploy(conn, "public", read_migrations_directory(write_migrations_directory(tmp_path / "first", {NAMES[0]: MIGRATIONS[0]["sql"]})))
    holder = target_db.connect()
    holder.execute("BEGIN")
    holder.execute('LOCK TABLE "_prisma_migrations" IN ACCESS EXCLUSIVE MODE')
    try:
        worker = workers(beat=True, supervised=True)
        job_id = gate.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]
        with scratch_db.connect() as store:

            def deferred_for_a_while():
                # Between two runs: no worker holds it, its next run far enough off to restart the broker first.
                row = store.execute("SELECT worker_id, extract(epoch FROM next_run_at - now()) FROM job WHERE id = %s", (job_id,)).fetchone()
                return row[0] is None and row[1] is not None and row[1] > 0.5

            assert wait_until(deferred_for_a_while, 60), journal(store, job_id)
            # Killed and started again at once: empty (no persistence), the worker reconnects within seconds.
            own_redis.kill()
            own_redis.start()
            holder.execute("ROLLBACK")
            # No verdict while it waited: the journal says what it waits for.
            waits = [e.data for e in repository.job_events(store, job_id) if e.kind == "step_finished" and (e.step or "").startswith("wait_for_catalog:")]
            assert waits and waits[0]["message"].startswith("a lock another session holds keeps the target's catalog from being read"), waits
            assert repository.get_job(store, job_id).verdict is None
            assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), journal(store, job_id)
            ended_once(store, job_id)
            job = repository.get_job(store, job_id)
            assert lost_notes(store, job_id), journal(store, job_id)
    finally:
        holder.close()
    assert job.verdict is not None and job.verdict.value == "proceed", job.reasons
    # The worker held the deferred message when the connection dropped: kombu may end it, and its
    # supervisor starts it again (once). Either way the message itself is gone with the broker.
    assert worker.restarts <= 1
    with target_db.connect() as conn:
        applied_once(conn, NAMES)
    prisma_agrees(target_db.url, MIGRATIONS, tmp_path / "prisma" / "migrations")
