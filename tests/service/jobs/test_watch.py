"""The process's job watcher: one LISTEN connection, waiters woken by job id, on a real store."""

import threading
import time

import psycopg
import pytest

from service.jobs.states import JobKind, JobState
from service.jobs.watch import JobWatcher, wait_for_change
from service.store import repository


@pytest.fixture
def store(scratch_db):
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


@pytest.fixture
def watcher(scratch_db):
    watcher = JobWatcher(lambda: psycopg.connect(scratch_db.conninfo, autocommit=True, application_name="watch-test"))
    yield watcher
    watcher.close()


def until(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def new_job(store):
    return repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")[0]


def test_a_notification_wakes_the_waiters_on_that_job_only(watcher, store):
    first, second = new_job(store), new_job(store)
    with watcher.watch(first.id) as first_woken, watcher.watch(second.id) as second_woken:
        until(lambda: watcher.connections == 1)
        first_woken.clear()
        second_woken.clear()  # set once by the listener's first connection
        repository.transition(store, first.id, JobState.RUNNING)
        assert first_woken.wait(10)
        assert not second_woken.is_set()
        assert watcher.parked() == 2
    assert watcher.parked() == 0


def test_wait_for_change_returns_the_changed_job(watcher, store, scratch_db):
    job = new_job(store)
    with scratch_db.connect() as reader:

        def change_soon():
            until(lambda: watcher.parked() == 1)
            with scratch_db.connect() as conn:
                repository.record_step(conn, job.id, "status", "started")
                repository.transition(conn, job.id, JobState.RUNNING)

        changer = threading.Thread(target=change_soon)
        changer.start()
        changed = wait_for_change(watcher, lambda: repository.get_job(reader, job.id), job, 20)
        changer.join()
    # Woken by the first change (the step), or by both if they landed together.
    assert changed.updated_at > job.updated_at
    assert repository.get_job(store, job.id).state is JobState.RUNNING


def test_wait_for_change_gives_the_job_as_it_is_at_the_deadline(watcher, store):
    job = new_job(store)
    assert wait_for_change(watcher, lambda: repository.get_job(store, job.id), job, 0.3) == job
    assert watcher.parked() == 0


def test_the_listener_stops_with_its_store(scratch_db, store):
    closed = threading.Event()
    watcher = JobWatcher(lambda: psycopg.connect(scratch_db.conninfo, autocommit=True, application_name="watch-test"), stopped=closed.is_set)
    job = new_job(store)
    with watcher.watch(job.id):
        until(lambda: watcher.connections == 1)
    listening = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'watch-test'"
    assert scratch_db.query(listening) == [(1,)]
    closed.set()
    until(lambda: scratch_db.query(listening) == [(0,)])


def test_a_subscription_to_one_job_hears_its_changes_and_no_other_jobs(watcher, store):
    first, second = new_job(store), new_job(store)
    with watcher.subscribe(first.id) as subscription:
        until(lambda: watcher.connections == 1)
        assert subscription.wait(10) == {subscription.EVERY_JOB}  # the listener connected: anything may have changed
        repository.transition(store, second.id, JobState.RUNNING)
        repository.transition(store, first.id, JobState.RUNNING)
        assert subscription.wait(10) == {first.id}


def test_a_subscription_to_every_job_hears_which_changed(watcher, store):
    first, second = new_job(store), new_job(store)
    with watcher.subscribe() as subscription:
        until(lambda: watcher.connections == 1)
        subscription.wait(10)
        with store.transaction():
            repository.transition(store, first.id, JobState.RUNNING)
            repository.transition(store, second.id, JobState.RUNNING)
        heard: set[str] = set()
        deadline = time.monotonic() + 10
        while heard != {first.id, second.id} and time.monotonic() < deadline:
            heard |= subscription.wait(1)
        assert heard == {first.id, second.id}
    assert subscription not in watcher._subscriptions


def test_a_quiet_subscription_waits_out_its_timeout_empty_handed(watcher, store):
    with watcher.subscribe(new_job(store).id) as subscription:
        until(lambda: watcher.connections == 1)
        subscription.wait(10)
        started = time.monotonic()
        assert subscription.wait(0.2) == set()
        assert time.monotonic() - started >= 0.2
