"""The beat reconciler: lost messages and dead workers are found in the store and re-enqueued."""

import os
import signal
import time
import uuid
from datetime import datetime

import pytest
import redis

from service.config.settings import Settings
from service.http import create_app
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.broker import sending_through
from tests.contract import ContractClient
from tests.service.prisma.history_helpers import history_rows
from tests.workers.conftest import reconfigure_staging
from tests.workers.processes import start_worker, stop, wait_until
from tests.workers.test_tasks import AUTH, MIGRATIONS
from tests.workers.test_unreachable import closed_port
from workers import tasks
from workers.broker import Broker
from workers.celery_app import make_celery

# The default lost-message age (the environment sets none here).
LOST = Settings.from_env({}).lost_message_seconds
LOST_IN_TESTS = 2


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


def test_lost_messages_are_sent_again_once_with_the_time_they_are_due(service_env, scratch_db):
    """A queued job and a deferred running job whose messages are overdue are sent again, each
    journaled; a long wait still to come, a deploy waiting for its recover job, a fresh job and a
    finished one are left alone. The next pass finds nothing: each lost message is sent once."""
    with scratch_db.connect() as store:
        repository.migrate_store(store)
        jobs = {}
        for name in ("lost_queued", "lost_deferred", "long_wait", "waits_for_child", "fresh", "finished"):
            jobs[name], _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
        for name in ("lost_deferred", "long_wait", "waits_for_child", "finished"):
            repository.transition(store, jobs[name].id, JobState.RUNNING)
        repository.transition(store, jobs["finished"].id, JobState.FAILED)
        repository.expect_message(store, jobs["lost_deferred"].id, in_seconds=-(LOST + 5))
        repository.expect_message(store, jobs["long_wait"].id, in_seconds=600)  # a restore polled every ten minutes, say
        repository.expect_no_message(store, jobs["waits_for_child"].id)
        # Nothing of theirs changed for an hour: only the time their message is due counts.
        store.execute("UPDATE job SET updated_at = now() - interval '1 hour' WHERE id <> %s", (jobs["fresh"].id,))
    passes, messages = reconcile_passes(2, passes=2)
    assert passes == [2, 0]
    assert {message.headers["task"] for message in messages} == {"deploy_gate.run_job"}
    sent = {message.payload[0][0]: datetime.fromisoformat(message.payload[1]["due"]) for message in messages}
    assert sorted(sent) == sorted([jobs["lost_queued"].id, jobs["lost_deferred"].id])
    with scratch_db.connect() as store:
        for job_id, due in sent.items():
            assert repository.is_current_message(store, job_id, due)  # the message sent is the job's own
        notes = {name: [e.data for e in repository.job_events(store, job.id) if e.kind == "note"] for name, job in jobs.items()}
    (deferred_note,) = notes["lost_deferred"]
    assert LOST + 5 <= deferred_note["overdue_seconds"] < LOST + 60
    assert deferred_note["message"] == (
        f"no worker took this job's message {deferred_note['overdue_seconds']:.0f} s after it was due"
        " (the broker lost it, restarted empty say, or every worker is busy): sent again"
    )
    assert notes["lost_queued"][0]["overdue_seconds"] >= 3600 and notes["lost_queued"][0]["message"].endswith(": sent again")
    assert all(notes[name] == [] for name in ("long_wait", "waits_for_child", "fresh", "finished"))


def test_a_message_the_job_has_moved_on_from_is_dropped_unrun(service_env, scratch_db):
    """A late duplicate (the reconciler sent the job again meanwhile) does nothing."""
    with scratch_db.connect() as store:
        repository.migrate_store(store)
        job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
        repository.transition(store, job.id, JobState.RUNNING)
        first = repository.expect_message(store, job.id, in_seconds=1)
        again = repository.expect_message(store, job.id, in_seconds=0)
        assert first is not None and again is not None and again != first
        assert not repository.is_current_message(store, job.id, first) and repository.is_current_message(store, job.id, again)
        before = repository.job_events(store, job.id)
    # Run in this process, as test_tasks runs the unknown job's message: what the task did with it.
    assert tasks.run_job_task.apply(args=[job.id], kwargs={"due": first.isoformat()}).get() == "duplicate"
    with scratch_db.connect() as store:
        assert repository.job_events(store, job.id) == before
        assert repository.is_current_message(store, job.id, again)


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


@pytest.fixture
def short_intervals(service_env, monkeypatch, tmp_path):
    """Real worker processes with short liveness and lost-message ages; a visibility timeout of an
    hour, so the broker never hands a killed worker's messages on during a test: only the reconciler can."""
    monkeypatch.setenv("DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("DEPLOY_GATE_WORKER_STALE_SECONDS", "3")
    monkeypatch.setenv("DEPLOY_GATE_RECONCILE_SECONDS", "1")
    monkeypatch.setenv("DEPLOY_GATE_LOST_MESSAGE_SECONDS", str(LOST_IN_TESTS))
    monkeypatch.setenv("DEPLOY_GATE_VISIBILITY_TIMEOUT", "3600")
    broker = redis.Redis.from_url(os.environ["DEPLOY_GATE_BROKER_URL"])
    broker.flushdb()
    producer = make_celery(Settings.from_env(), set_as_current=False)
    app = create_app(Settings.from_env(), enqueue=sending_through(producer))
    app.test_client_class = ContractClient
    yield app.test_client(), tmp_path
    app.extensions["deploy_gate"].close()
    producer.close()
    broker.flushdb()


def test_a_deferred_job_whose_message_died_with_its_worker_is_sent_again_within_seconds(short_intervals, scratch_db, target_db, monkeypatch):
    """The regression: a job waiting between two runs (its target unreachable) holds no worker; the
    worker holding its deferred message is killed, and the message, unacknowledged, would come back
    only after the visibility timeout. The reconciler sends it again once it is overdue (seconds
    here, a minute by default; it took 15 minutes), and the job finishes once."""
    client, tmp_path = short_intervals
    reconfigure_staging(monkeypatch, f"postgresql://postgres@127.0.0.1:{closed_port()}/app", unreachable_timeout_seconds=300)
    first = start_worker()
    second = None
    try:
        job_id = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]
        with scratch_db.connect() as store:

            def deferred_for_a_while():
                # Between two runs: no worker holds it, and its next run is far enough off to kill the worker first.
                row = store.execute("SELECT worker_id, extract(epoch FROM next_run_at - now()) FROM job WHERE id = %s", (job_id,)).fetchone()
                return row[0] is None and row[1] is not None and row[1] > 0.5

            assert wait_until(deferred_for_a_while, 60), [(e.kind, e.step, e.data) for e in repository.job_events(store, job_id)]
            stop(first, signal.SIGKILL)
            killed_at = time.monotonic()
            # The target is back; the new worker runs the beat (the reconciler), as `make run` does.
            reconfigure_staging(monkeypatch, target_db.url)
            second = start_worker("--beat", f"--schedule={tmp_path / 'beat-schedule'}")
            assert wait_until(lambda: repository.get_job(store, job_id).state is JobState.SUCCEEDED, 60), [
                (e.kind, e.step, e.data) for e in repository.job_events(store, job_id)
            ]
            finished_after = time.monotonic() - killed_at
            job = repository.get_job(store, job_id)
            events = repository.job_events(store, job_id)
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            stop(second)

    assert job.verdict is not None and job.verdict.value == "proceed", job.reasons
    # The next try was at most a couple of seconds off, lost after LOST_IN_TESTS more, the reconciler each second.
    assert finished_after < 30, finished_after
    notes = [event.data["message"] for event in events if event.kind == "note"]
    # Sent again once, or again if that message too waited 2 s on a busy machine: nothing else (never "worker ... stopped").
    assert notes and all(note.startswith("no worker took this job's message ") and note.endswith(": sent again") for note in notes), notes
    waits = [event.step for event in events if event.kind == "step_finished" and (event.step or "").startswith("wait_for_target:")]
    assert waits and all(event.data["outcome"] == "retrying" for event in events if event.step in waits)
    finished = [event.step for event in events if event.kind == "step_finished"]
    assert len(finished) == len(set(finished)), finished  # no step finished twice
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == [migration["name"] for migration in MIGRATIONS]
