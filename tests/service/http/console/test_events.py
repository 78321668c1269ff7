"""GET /console/events: Server-Sent Events fed by the job watcher's LISTEN, read off a real stream."""

import json
import threading

import pytest

from service.http.console import events
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.service.http.console.conftest import sign_in


def chunks(response):
    """The stream's pieces as text, as they come."""
    for chunk in response.response:
        yield chunk.decode() if isinstance(chunk, bytes) else chunk


def job_events(response):
    for chunk in chunks(response):
        if chunk.startswith("event: job\n"):
            yield json.loads(chunk.split("data: ", 1)[1])


@pytest.fixture
def job(store):
    return repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")[0]


def listening(watcher):
    """The watcher's LISTEN connection up, so no reconnect's re-read comes between a test's events."""
    with watcher.subscribe() as subscription:
        while watcher.connections < 1:
            subscription.wait(0.05)


def test_a_change_committed_elsewhere_reaches_the_jobs_stream(client, app, job, scratch_db):
    sign_in(client, "reader-token")
    listening(app.extensions["deploy_gate"].watcher)
    response = client.get(f"/console/events?job={job.id}", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    seen = job_events(response)
    # Subscribed, the stream reads its job as it is.
    first = next(seen)
    assert (first["id"], first["state"], first["verdict"]) == (job.id, "queued", None)
    with scratch_db.connect() as other:
        changed = repository.transition(other, job.id, JobState.RUNNING)
    assert next(seen) == {"id": job.id, "state": "running", "verdict": None, "updated_at": changed.updated_at.isoformat()}
    response.close()


def test_the_stream_of_every_job_names_each_job_that_changed(client, app, store, job, scratch_db):
    sign_in(client, "reader-token")
    other_job = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")[0]
    response = client.get("/console/events", buffered=False)
    stream = chunks(response)
    assert next(stream) == ": connected\n\n"
    watcher = app.extensions["deploy_gate"].watcher
    done = threading.Event()

    def change_when_listening():
        while watcher.connections < 1 and not done.wait(0.02):
            pass
        with scratch_db.connect() as conn:
            repository.transition(conn, other_job.id, JobState.RUNNING)
            repository.transition(conn, job.id, JobState.RUNNING)

    changer = threading.Thread(target=change_when_listening)
    changer.start()
    try:
        heard = set()
        for event in job_events(response):
            heard.add(event["id"])
            if heard == {job.id, other_job.id}:
                break
    finally:
        done.set()
        changer.join()
    response.close()


def test_a_quiet_stream_sends_heartbeats_and_ends_when_the_client_goes(client, app, job, monkeypatch):
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.1)
    sign_in(client, "reader-token")
    watcher = app.extensions["deploy_gate"].watcher
    response = client.get(f"/console/events?job={job.id}", buffered=False)
    assert ": heartbeat\n\n" in chunks(response)
    assert len(watcher._subscriptions) == 1
    response.close()
    assert len(watcher._subscriptions) == 0


def test_a_stream_for_no_such_job_is_404_and_one_needs_a_session(client, job):
    assert client.get(f"/console/events?job={job.id}").status_code == 303
    sign_in(client, "reader-token")
    assert client.get("/console/events?job=00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_list_stream_says_any_job_may_have_changed_when_the_listener_connects(client, app):
    """Changes committed before LISTEN took effect sent no notification: the list's page refreshes."""
    sign_in(client, "reader-token")
    watcher = app.extensions["deploy_gate"].watcher
    assert watcher.connections == 0
    response = client.get("/console/events", buffered=False)
    stream = chunks(response)
    assert next(stream) == ": connected\n\n"
    assert next(stream) == events.JOBS_CHANGED  # the first subscriber started the listener
    assert watcher.connections == 1
    response.close()


def test_draining_ends_open_streams_and_any_opened_later(client, app, job):
    sign_in(client, "reader-token")
    watcher = app.extensions["deploy_gate"].watcher
    listening(watcher)
    open_stream = client.get(f"/console/events?job={job.id}", buffered=False)
    pieces = chunks(open_stream)
    assert next(pieces) == ": connected\n\n"
    assert json.loads(next(pieces).split("data: ", 1)[1])["id"] == job.id
    ended = threading.Event()

    def read_to_the_end():
        for _ in pieces:
            pass
        ended.set()

    reader = threading.Thread(target=read_to_the_end)
    reader.start()
    watcher.drain()
    # The stream waits up to HEARTBEAT_SECONDS (15 s) between events; draining ends it at once.
    assert ended.wait(5)
    reader.join()
    later = client.get("/console/events", buffered=False)
    assert list(chunks(later)) == [": connected\n\n"]
    open_stream.close()
    later.close()


def test_a_new_job_reaches_the_list_stream_before_any_worker_takes_it(client, app, scratch_db):
    sign_in(client, "reader-token")
    listening(app.extensions["deploy_gate"].watcher)
    response = client.get("/console/events", buffered=False)
    stream = chunks(response)
    assert next(stream) == ": connected\n\n"
    with scratch_db.connect() as other:
        created, _ = repository.create_job(other, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
    event = next(job_events(response))
    assert (event["id"], event["state"]) == (created.id, "queued")
    response.close()
