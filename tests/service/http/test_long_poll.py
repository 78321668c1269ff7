"""Long-polls park without a store connection: many of them leave the pool to other requests."""

import threading

from service.jobs.states import JobState
from service.store import repository
from tests.service.http.conftest import auth
from tests.service.http.test_jobs import listener_cut_off, submit, until

POOL_SIZE = 10  # service.http.store.open_pool's max_size (the test takes it from the pool itself too)


def park(app, job_id, answers, wait=25):
    """A long-poll on its own thread (each with its own client, as separate callers would be)."""

    def poll():
        response = app.test_client().get(f"/v1/jobs/{job_id}?wait={wait}", headers=auth())
        answers.append((response.status_code, response.get_json()["state"]))

    thread = threading.Thread(target=poll)
    thread.start()
    return thread


def listeners(scratch_db):
    return scratch_db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'deploy-gate-api-listen'")[0][0]


def test_more_parked_long_polls_than_pooled_connections_leave_the_store_to_other_requests(app, client, scratch_db):
    job = submit(client)
    other = submit(client)
    extension = app.extensions["deploy_gate"]
    answers = []
    polls = [park(app, job["id"], answers) for _ in range(POOL_SIZE + 2)]
    try:
        until(lambda: extension.watcher.parked() == len(polls))

        # Every poll is parked; a request that needs the store is answered meanwhile.
        response = client.get(f"/v1/jobs/{other['id']}", headers=auth("reader-token"))
        assert response.status_code == 200 and response.get_json()["id"] == other["id"]
        # The parked requests hold none of the pool's connections (taking all of them would
        # time out otherwise), and one connection listens for the whole process.
        taken = [extension.pool.getconn(timeout=10) for _ in range(extension.pool.max_size)]
        for conn in taken:
            extension.pool.putconn(conn)
        assert listeners(scratch_db) == 1
        metrics = client.get("/metrics", headers=auth()).get_data(as_text=True)
        assert f"deploy_gate_long_polls_parked {len(polls)}.0" in metrics
        assert extension.watcher.parked() == len(polls) and answers == []
    finally:
        with scratch_db.connect() as conn:
            repository.transition(conn, job["id"], JobState.RUNNING)
        for poll in polls:
            poll.join(30)
    assert answers == [(200, "running")] * len(polls)
    assert extension.watcher.parked() == 0


def test_a_change_made_while_the_listener_is_cut_off_still_wakes_the_poll(app, client, scratch_db):
    job = submit(client)
    watcher = app.extensions["deploy_gate"].watcher
    answers = []
    poll = park(app, job["id"], answers)
    until(lambda: watcher.parked() == 1 and watcher.connections == 1)
    with scratch_db.connect() as conn, listener_cut_off(scratch_db):
        # The change's NOTIFY reaches nobody: only the re-read after reconnecting can see it.
        repository.transition(conn, job["id"], JobState.RUNNING)
        assert answers == []
    poll.join(30)
    assert answers == [(200, "running")]
    assert watcher.connections == 2
