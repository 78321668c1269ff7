import threading

import psycopg
import pytest

from service.jobs.states import JobState
from service.store import repository
from service.store.repository import JOB_CHANNEL, JobNotFound
from tests.service.store.repository.helpers import new_job


def test_journal_is_append_only(store):
    job = new_job(store)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        store.execute("UPDATE job_event SET kind = 'note' WHERE job_id = %s", (job.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        store.execute("DELETE FROM job_event WHERE job_id = %s", (job.id,))


def test_steps_are_journaled_and_finished_steps_remembered(store):
    job = new_job(store)
    repository.record_step(store, job.id, "apply:1_a", "started")
    repository.record_step(store, job.id, "apply:1_a", "finished", {"ok": True})
    repository.record_step(store, job.id, "apply:2_b", "started")
    assert repository.finished_steps(store, job.id) == {"apply:1_a": {"ok": True}}


def test_transition_notifies_listeners_on_commit(store, scratch_db):
    job = new_job(store)
    heard = []
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {JOB_CHANNEL}")
        thread = threading.Thread(target=lambda: repository.transition(store, job.id, JobState.RUNNING))
        thread.start()
        for notification in listener.notifies(timeout=5, stop_after=1):
            heard.append(notification.payload)
        thread.join()
    assert heard == [job.id]


def test_a_listening_connection_hears_each_changed_job(store, scratch_db):
    job = new_job(store)
    with psycopg.connect(scratch_db.conninfo, autocommit=True) as listener:
        repository.listen_for_job_changes(listener)
        repository.record_step(store, job.id, "status", "started")
        repository.record_note(store, job.id, {"platform": "vercel"})
        heard = [notification.payload for notification in listener.notifies(timeout=5, stop_after=2)]
    assert heard == [job.id, job.id]


def test_a_note_is_journaled_without_changing_the_job(store):
    job = new_job(store)
    repository.record_notification_outcome(store, job.id, notification="verdict", delivery_id="d-1", outcome="delivered", status=200)
    assert repository.get_job(store, job.id) == job
    assert [(e.kind, e.data) for e in repository.job_events(store, job.id)][1:] == [
        ("note", {"notification": "verdict", "delivery_id": "d-1", "outcome": "delivered", "status": 200})
    ]
    with pytest.raises(JobNotFound):
        repository.record_note(store, "not-a-uuid", {})


def test_finished_steps_are_counted_by_prefix_and_dated(store):
    job = new_job(store)
    for step in ("apply:1_a", "apply:2_b", "status"):
        repository.record_step(store, job.id, step, "started")
        repository.record_step(store, job.id, step, "finished")
    repository.record_step(store, job.id, "apply:3_c", "started")
    assert repository.count_finished_steps(store, job.id, "apply:") == 2
    assert repository.count_finished_steps(store, job.id, "verify:") == 0
    finished = {e.step: e.at for e in repository.job_events(store, job.id) if e.kind == "step_finished"}
    assert repository.step_finished_at(store, job.id, "apply:2_b") == finished["apply:2_b"]
    assert repository.step_finished_at(store, job.id, "apply:3_c") is None
    assert [step for step, _ in repository.step_durations(store)] == ["apply", "status"]
