"""The target's PostgreSQL stopped: before a job starts, in the middle of a migration, and for good.

The target is a database in a cluster of this module's own (initdb once, on a free port), stopped
with `pg_ctl stop -m immediate` as a crash would; a real worker process runs the jobs. While the
target is down a job journals each failed attempt (`wait_for_target:N`, in words) and has no
verdict; once it is back the job finishes, each migration applied once, and the real Prisma CLI
agrees. A target down past its `unreachable_timeout_seconds` ends the job blocked, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service.jobs.states import JobState
from service.store import repository
from tests.faults.checks import applied_once, ended_once, journal, prisma_agrees
from tests.faults.servers import OwnDatabase, OwnPostgres
from tests.workers.conftest import reconfigure_staging
from tests.workers.processes import wait_until
from tests.workers.test_tasks import AUTH

pytestmark = pytest.mark.faults

MIGRATIONS = [
    {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240102_slow_visits", "sql": 'SELECT pg_sleep(3);\nCREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240103_notes", "sql": 'CREATE TABLE "Note" ("id" SERIAL PRIMARY KEY);'},
]
NAMES = [migration["name"] for migration in MIGRATIONS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    yield server
    server.remove()


@pytest.fixture
def target(cluster, service_env, monkeypatch) -> OwnDatabase:
    """A database of this test's own in the module's cluster (started again if a test left it
    stopped), as staging's target; the API and the workers read it from the targets file."""
    database = cluster.create_database()
    reconfigure_staging(monkeypatch, database.url)
    return database


def attempts(store, job_id) -> list[dict]:
    return [e.data for e in repository.job_events(store, job_id) if e.kind == "step_finished" and (e.step or "").startswith("wait_for_target:")]


def refused(target: OwnDatabase) -> str:
    return f"target unreachable: connection refused by 127.0.0.1:{target.port}"


def test_a_target_down_before_the_job_starts_is_waited_for_then_deployed(target, gate, workers, scratch_db, monkeypatch, tmp_path):
    reconfigure_staging(monkeypatch, target.url, unreachable_timeout_seconds=120)
    target.stop()
    workers()
    job_id = gate.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]
    with scratch_db.connect() as store:
        assert wait_until(lambda: len(attempts(store, job_id)) >= 2, 30), journal(store, job_id)
        # While it lasts: each attempt in words, the job running, no verdict.
        first = attempts(store, job_id)[0]
        assert (first["message"], first["code"], first["outcome"], first["timeout_seconds"]) == (refused(target), "P1001", "retrying", 120)
        seen = gate.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()
        assert (seen["state"], seen["verdict"]) == ("running", None), seen
        target.start()
        assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), journal(store, job_id)
        job = repository.get_job(store, job_id)
        ended_once(store, job_id)
        assert all(attempt["outcome"] == "retrying" for attempt in attempts(store, job_id))
    assert job.verdict is not None and job.verdict.value == "proceed", job.reasons
    with target.connect() as conn:
        applied_once(conn, NAMES)
    prisma_agrees(target.url, MIGRATIONS, tmp_path / "prisma" / "migrations")


def test_a_target_stopped_mid_migration_resumes_once_it_is_back_and_applies_each_migration_once(target, gate, workers, scratch_db, tmp_path):
    workers()
    job_id = gate.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]
    with scratch_db.connect() as store:

        def slow_migration_started():
            return any(e.step == "apply:20240102_slow_visits" and e.kind == "step_started" for e in repository.job_events(store, job_id))

        assert wait_until(slow_migration_started), journal(store, job_id)
        target.stop()
        stopped_at = time.monotonic()
        # The connection lost mid-script; the next run finds the target down and says so.
        assert wait_until(lambda: attempts(store, job_id), 30), journal(store, job_id)
        assert attempts(store, job_id)[0]["message"] == refused(target)
        seen = gate.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()
        assert (seen["state"], seen["verdict"]) == ("running", None), seen
        target.start()
        assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), journal(store, job_id)
        took = time.monotonic() - stopped_at
        job = repository.get_job(store, job_id)
        ended_once(store, job_id)
        events = repository.job_events(store, job_id)
    assert job.verdict is not None and job.verdict.value == "proceed", job.reasons
    # The interrupted attempt is journaled as such: it left nothing, so it was applied again.
    settled = [e.data for e in events if e.step == "apply:20240102_slow_visits" and e.kind == "step_failed"]
    assert settled == [{"interrupted": True, "resolution": "marked rolled back: no effect is present"}], settled
    assert took < 60, took
    with target.connect() as conn:
        applied_once(conn, NAMES)
        tables = {name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"Patient", "Visit", "Note"} <= tables
    prisma_agrees(target.url, MIGRATIONS, tmp_path / "prisma" / "migrations")


def test_a_target_down_past_its_timeout_ends_the_job_blocked_with_nothing_written(target, gate, workers, scratch_db, monkeypatch):
    reconfigure_staging(monkeypatch, target.url, unreachable_timeout_seconds=3)
    target.stop()
    workers()
    posted = time.monotonic()
    job_id = gate.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]
    with scratch_db.connect() as store:
        assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 30), journal(store, job_id)
        took = time.monotonic() - posted
        job = repository.get_job(store, job_id)
        tried = attempts(store, job_id)
        ended_once(store, job_id)
    assert job.verdict is not None and job.verdict.value == "blocked"
    assert took < 20, took  # the policy's deadline decides, not Celery's retries
    assert job.reasons[0] == refused(target)
    assert job.reasons[1].startswith(f"tried {len(tried)} times over ") and job.reasons[1].endswith(
        "(unreachable_timeout_seconds = 3); next: make the target database reachable, then run the job again"
    )
    assert [attempt["outcome"] for attempt in tried] == ["retrying"] * (len(tried) - 1) + ["gave_up"] and len(tried) >= 2
    # What the gate prints is the verdict and its reasons; the metrics count the job.
    seen = gate.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()
    assert (seen["verdict"], seen["reasons"][0]) == ("blocked", refused(target))
    metrics = gate.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert "deploy_gate_jobs_blocked_unreachable 1.0" in metrics
    target.start()
    with target.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'").fetchone() == (0,)
