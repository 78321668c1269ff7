"""The beat reconciler: lost messages and dead workers are found in the store and re-enqueued."""

import uuid

from service.config.settings import Settings
from service.jobs.states import JobKind, JobState
from service.store import repository
from workers import tasks
from workers.broker import Broker
from workers.celery_app import make_celery


def reconcile_passes(expected_messages, passes=1):
    """Run the reconciler `passes` times on an app whose queue no worker reads: what each pass
    returned, and the messages it sent (read back; nothing else is left in the queue)."""
    app = make_celery(Settings.from_env(), set_as_current=False)
    app.conf.task_default_queue = queue = f"dg-test-{uuid.uuid4().hex[:8]}"
    try:
        returned = [app.tasks[tasks.reconcile.name].run() for _ in range(passes)]
        with app.connection_for_read() as connection, connection.SimpleQueue(queue) as sent:
            messages = [sent.get(timeout=5) for _ in range(expected_messages)]
            for message in messages:
                message.ack()
        assert Broker(app).waiting() == 0  # nothing else was sent
    finally:
        app.close()
    return returned, messages


def test_stale_queued_and_running_jobs_are_enqueued_again(service_env, scratch_db):
    with scratch_db.connect() as store:
        repository.migrate_store(store)
        lost, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        abandoned, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
        repository.transition(store, abandoned.id, JobState.RUNNING)
        fresh, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        finished, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        repository.transition(store, finished.id, JobState.RUNNING)
        repository.transition(store, finished.id, JobState.FAILED)
        store.execute(
            "UPDATE job SET updated_at = now() - interval '1 hour' WHERE id = ANY(%s)",
            ([lost.id, abandoned.id, finished.id],),
        )
    passes, messages = reconcile_passes(2)
    assert passes == [2]
    assert {message.headers["task"] for message in messages} == {"deploy_gate.run_job"}
    assert sorted(message.payload[0][0] for message in messages) == sorted([lost.id, abandoned.id])


def test_a_dead_workers_job_is_resumed_and_a_live_workers_job_is_left_to_it(service_env, scratch_db):
    with scratch_db.connect() as store:
        repository.migrate_store(store)
        repository.record_heartbeat(store, "alive", hostname="here", pid=1)
        repository.record_heartbeat(store, "dead", hostname="there", pid=2)
        store.execute("UPDATE worker SET heartbeat_at = now() - interval '31 seconds' WHERE id = 'dead'")
        jobs = {}
        for holder in ("alive", "dead", "gone"):
            job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
            repository.transition(store, job.id, JobState.RUNNING)
            assert repository.claim_job(store, job.id, holder, fresh_within_seconds=30) is None
            jobs[holder] = job.id
        # Quiet for an hour: a long step. Its worker's heartbeat, not the quiet, says whether it is alive.
        store.execute("UPDATE job SET updated_at = now() - interval '1 hour'")
    passes, messages = reconcile_passes(2, passes=2)
    assert passes == [2, 0]  # released once: the next pass finds nothing
    assert sorted(message.payload[0][0] for message in messages) == sorted([jobs["dead"], jobs["gone"]])
    with scratch_db.connect() as store:
        holders = dict(store.execute("SELECT id::text, worker_id FROM job").fetchall())
        assert holders == {jobs["alive"]: "alive", jobs["dead"]: None, jobs["gone"]: None}
        notes = {job_id: [e.data["message"] for e in repository.job_events(store, job_id) if e.kind == "note"] for job_id in jobs.values()}
        # Another worker may take a dead worker's job; nobody takes a live worker's.
        assert repository.claim_job(store, jobs["alive"], "other", fresh_within_seconds=30) == "alive"
    assert notes[jobs["alive"]] == []
    assert len(notes[jobs["dead"]]) == 1 and notes[jobs["dead"]][0].startswith("worker dead stopped (no heartbeat for 3")
    assert notes[jobs["gone"]] == ["worker gone stopped (it is gone); the job resumes on another worker, skipping the steps it finished"]
