"""Deploy requests become jobs: the process's intake stores concurrent ones together, then
enqueues the new ones together."""

import logging
import threading

import psycopg
import pytest
import redis

from service.config.records import Config, Policy, Target
from service.http.store import open_pool
from service.jobs.states import JobKind
from service.jobs.submit import DeployRequest, JobIntake, enqueue_committed
from service.prisma.database import parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from service.store.repository import NewJob


@pytest.fixture
def pool(scratch_db, store):
    pool = open_pool(scratch_db.url, max_size=4)
    yield pool
    pool.close()


def submit_together(intake, new_jobs):
    """Each job from its own thread, started at once; (results, errors) by position."""
    results, errors = {}, {}

    def submit(position, new):
        try:
            results[position] = intake(new)
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            errors[position] = error

    threads = [threading.Thread(target=submit, args=pair) for pair in enumerate(new_jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results, errors


@pytest.fixture
def enqueued():
    """The job ids of each enqueue call, in order."""
    return []


def test_concurrent_submissions_each_get_their_own_committed_job(pool, store, enqueued):
    intake = JobIntake(pool, lambda *job_ids: enqueued.append(job_ids))
    new_jobs = [NewJob(JobKind.CHECK, "staging", "ci", {"commit": f"c{n}"}, idempotency_key=f"k{n % 20}") for n in range(40)]
    results, errors = submit_together(intake, new_jobs)
    assert errors == {}
    # Twenty keys, each used twice: twenty jobs, and each caller has the job of its key.
    assert sum(created for _, created in results.values()) == 20
    for position, (job, _) in results.items():
        assert job.idempotency_key == f"k{position % 20}"
        assert repository.get_job(store, job.id) == job
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 20
    assert store.execute("SELECT count(*) FROM job_event").fetchone()[0] == 20
    # Each new job is enqueued once; a repeated key enqueues nothing.
    sent = [job_id for call in enqueued for job_id in call]
    assert sorted(sent) == sorted(job.id for job, created in results.values() if created)


def test_a_job_the_store_refuses_fails_its_own_caller_only(pool, store, monkeypatch, enqueued):
    intake = JobIntake(pool, lambda *job_ids: enqueued.append(job_ids))
    batches = []
    create_jobs = repository.create_jobs
    gate = threading.Event()

    def held(conn, new_jobs):
        batches.append(len(new_jobs))
        gate.wait(10)  # the first batch holds the intake until the rest queue behind it
        return create_jobs(conn, new_jobs)

    monkeypatch.setattr(repository, "create_jobs", held)
    missing_parent = "00000000-0000-4000-8000-000000000000"
    new_jobs = [NewJob(JobKind.CHECK, "staging", "ci", {"n": n}, parent_id=missing_parent if n == 2 else None) for n in range(5)]
    threads_done = threading.Event()
    outcome = {}

    def run():
        outcome["results"], outcome["errors"] = submit_together(intake, new_jobs)
        threads_done.set()

    threading.Thread(target=run).start()
    while len(batches) < 1 or len(intake._store._waiting) < 4:
        threading.Event().wait(0.01)
    gate.set()
    assert threads_done.wait(20)
    assert list(outcome["errors"]) == [2]
    assert isinstance(outcome["errors"][2], psycopg.errors.ForeignKeyViolation)
    assert sorted(outcome["results"]) == [0, 1, 3, 4]
    assert all(created for _, created in outcome["results"].values())
    assert batches[0] == 1 and 4 in batches  # the four that waited went together, then one by one
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 4
    # Each new job is sent once; the batch that went one by one still sends its jobs in one push.
    assert sorted(job_id for call in enqueued for job_id in call) == sorted(job.id for job, _ in outcome["results"].values())
    assert max(len(call) for call in enqueued) >= 3 and () not in enqueued


def test_a_broker_that_fails_is_logged_by_type_and_fails_no_request(caplog):
    def broker_down(*job_ids):
        raise redis.ConnectionError("Error 111 connecting to redis://:hunter2@broker:6379. Connection refused.")

    with caplog.at_level(logging.WARNING, logger="service.jobs.submit"):
        enqueue_committed(broker_down)("job-1", "job-2")
    assert [record.getMessage() for record in caplog.records] == ["could not enqueue job(s) job-1, job-2 (ConnectionError); the reconciler will"]


def test_jobs_go_to_the_broker_as_given():
    sent = []
    enqueue_committed(lambda *job_ids: sent.append(job_ids))("job-1", "job-2")
    assert sent == [("job-1", "job-2")]


def test_deploys_reusing_the_last_bundle_leave_the_intake_a_connection(pool, store, scratch_db):
    """Three times more requests than the pool has connections, each looking up the target's last bundle."""
    config = Config({"staging": Target("staging", parse_database_url(scratch_db.url), Policy())}, ())
    intake = JobIntake(pool, lambda *job_ids: None)
    bundle = migrations_from_bundle([("20240101_init", 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);')], 'provider = "postgresql"')
    first, _ = intake.submit_deploy(config, DeployRequest(target="staging", migrations=bundle), "ci")
    results, errors = {}, {}

    def submit(n):
        try:
            results[n] = intake.submit_deploy(config, DeployRequest(target="staging", phase="post", commit=f"c{n}"), "ci")
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            errors[n] = error

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == {} and len(results) == 12
    assert all(created and job.bundle_digest == first.bundle_digest for job, created in results.values())
