import base64
import json
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from service.jobs.states import JobState, Verdict
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.service.http.conftest import auth
from tests.service.http.test_deploys import MIGRATIONS
from tests.store import record_live_worker


def until(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


@contextmanager
def listener_cut_off(scratch_db):
    """The API's LISTEN connection terminated and kept from coming back for the block's duration,
    so a NOTIFY sent meanwhile reaches nobody."""
    database = sql.Identifier(scratch_db.name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
            [(listener,)] = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'deploy-gate-api-listen'", (scratch_db.name,)
            ).fetchall()
            admin.execute("SELECT pg_terminate_backend(%s)", (listener,))
            until(lambda: not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (listener,)).fetchall())
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))


def submit(client, **body):
    response = client.post("/v1/deploys", json={"target": "staging", "migrations": MIGRATIONS, **body}, headers=auth())
    assert response.status_code == 202
    return response.get_json()


def test_get_job_with_its_journal(client):
    job = submit(client)
    response = client.get(f"/v1/jobs/{job['id']}", headers=auth("reader-token"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == job["id"] and body["state"] == "queued"
    assert [e["to_state"] for e in body["events"]] == ["queued"]


def test_unknown_and_malformed_ids_are_404(client):
    for job_id in ("00000000-0000-4000-8000-000000000000", "nope"):
        response = client.get(f"/v1/jobs/{job_id}", headers=auth())
        assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_long_poll_answers_when_the_job_changes(client, app, scratch_db):
    job = submit(client)

    def finish_soon():
        time.sleep(0.4)
        with scratch_db.connect() as conn:
            repository.transition(conn, job["id"], JobState.RUNNING)

    changer = threading.Thread(target=finish_soon)
    changer.start()
    started = time.monotonic()
    response = client.get(f"/v1/jobs/{job['id']}?wait=10", headers=auth())
    waited = time.monotonic() - started
    changer.join()
    assert response.get_json()["state"] == "running"
    assert 0.3 < waited < 3


def test_long_poll_returns_at_the_deadline_when_nothing_changes(client):
    job = submit(client)
    started = time.monotonic()
    response = client.get(f"/v1/jobs/{job['id']}?wait=0.5", headers=auth())
    assert 0.45 < time.monotonic() - started < 2
    assert response.get_json()["state"] == "queued"


@pytest.mark.parametrize("wait", ["30", "-1", "soon"])
def test_wait_out_of_range_is_422(client, wait):
    job = submit(client)
    assert client.get(f"/v1/jobs/{job['id']}?wait={wait}", headers=auth()).status_code == 422


def test_list_filters_and_cursor(client, scratch_db):
    ids = [submit(client)["id"] for _ in range(3)]
    with scratch_db.connect() as conn:
        repository.transition(conn, ids[0], JobState.RUNNING)
    running = client.get("/v1/jobs?state=running", headers=auth()).get_json()
    assert [j["id"] for j in running["jobs"]] == [ids[0]]
    first = client.get("/v1/jobs?limit=2", headers=auth()).get_json()
    second = client.get(f"/v1/jobs?limit=2&cursor={first['next_cursor']}", headers=auth()).get_json()
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    assert client.get("/v1/jobs?cursor=garbage", headers=auth()).status_code == 400
    assert client.get("/v1/jobs?state=exploded", headers=auth()).status_code == 422


def test_cancel(client):
    job = submit(client)
    response = client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth())
    assert response.status_code == 200 and response.get_json()["state"] == "canceled"
    again = client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth())
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth("reader-token")).status_code == 403


def test_targets_and_their_latest_status(client, scratch_db):
    listing = client.get("/v1/targets", headers=auth()).get_json()
    assert [t["name"] for t in listing["targets"]] == ["staging"]
    assert "password" not in str(listing)
    assert client.get("/v1/targets/staging/status", headers=auth()).status_code == 404
    check = client.post("/v1/targets/staging/checks", json={"phase": "post"}, headers=auth())
    assert check.status_code == 422 and "none stored" in check.get_json()["detail"]
    job = submit(client)
    with scratch_db.connect() as conn:
        repository.transition(conn, job["id"], JobState.RUNNING)
        repository.transition(conn, job["id"], JobState.SUCCEEDED, verdict=Verdict.PROCEED, facts={"status": {"up_to_date": True}})
    status = client.get("/v1/targets/staging/status", headers=auth()).get_json()
    assert status["job"]["id"] == job["id"] and status["status"] == {"up_to_date": True}
    assert client.post("/v1/targets/staging/checks", headers=auth()).status_code == 202
    assert client.get("/v1/targets/elsewhere/status", headers=auth()).status_code == 404


def test_health_endpoints(client, scratch_db):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    record_live_worker(scratch_db)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
    assert client.get("/metrics").status_code == 401
    submit(client)
    metrics = client.get("/metrics", headers=auth()).get_data(as_text=True)
    assert 'deploy_gate_jobs{kind="check",state="queued",verdict="none"} 1.0' in metrics
    assert "deploy_gate_http_request_seconds_bucket" in metrics


def test_malformed_ids_and_forged_cursors_are_client_errors(client):
    assert client.post("/v1/jobs/nope/cancel", headers=auth()).status_code == 404
    forged = base64.urlsafe_b64encode(json.dumps(["2024-01-01T00:00:00+00:00", "not-a-uuid"]).encode()).decode()
    assert client.get(f"/v1/jobs?cursor={forged}", headers=auth()).status_code == 400


def cached_reads(app, seconds=600):
    """The app's job documents, kept long enough that only a notification can refresh them."""
    documents = app.extensions["deploy_gate"].watcher.documents
    documents.max_age = seconds
    return documents


def read_until(client, job_id, condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition(body := client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()):
        assert time.monotonic() < deadline, f"still {body['state']} with {len(body['events'])} events"
        time.sleep(0.01)
    return body


def test_a_job_read_again_is_served_from_the_process_until_the_job_changes(app, client, scratch_db):
    documents = cached_reads(app)
    watcher = app.extensions["deploy_gate"].watcher
    job = submit(client)
    first = client.get(f"/v1/jobs/{job['id']}", headers=auth())  # starts the listener
    until(lambda: watcher.connections == 1)
    client.get(f"/v1/jobs/{job['id']}", headers=auth())  # read from the store and kept
    hits = documents.hits
    again = client.get(f"/v1/jobs/{job['id']}", headers=auth())
    assert documents.hits == hits + 1
    assert again.get_json() == first.get_json() and again.mimetype == "application/json"
    metrics = client.get("/metrics", headers=auth()).get_data(as_text=True)
    assert f'deploy_gate_job_reads_total{{source="copy"}} {documents.hits}.0' in metrics
    assert f'deploy_gate_job_reads_total{{source="store"}} {documents.misses}.0' in metrics
    assert "deploy_gate_job_copies 1.0" in metrics

    # Each kind of write another process commits reaches this process's readers at once.
    with scratch_db.connect() as conn:
        repository.transition(conn, job["id"], JobState.RUNNING)
        assert read_until(client, job["id"], lambda body: body["state"] == "running")["attempts"] == 1
        repository.record_step(conn, job["id"], "status", "started")
        read_until(client, job["id"], lambda body: body["events"][-1].get("step") == "status")
        repository.record_note(conn, job["id"], {"source": "test"})
        read_until(client, job["id"], lambda body: body["events"][-1]["kind"] == "note")
        repository.transition(conn, job["id"], JobState.WAITING_APPROVAL, facts={"approval": {"step": "act:1"}})
        read_until(client, job["id"], lambda body: body["state"] == "waiting_approval")
        repository.record_approval(conn, job["id"], approved=False, by="oncall", comment=None, reasons=["no"])
        body = read_until(client, job["id"], lambda body: body["state"] == "succeeded")
    assert body["verdict"] == "blocked" and [e["kind"] for e in body["events"]].count("approval") == 1


def test_a_change_committed_while_the_listener_is_cut_off_is_not_served_stale(app, client, scratch_db):
    cached_reads(app)
    watcher = app.extensions["deploy_gate"].watcher
    job = submit(client)
    client.get(f"/v1/jobs/{job['id']}", headers=auth())
    until(lambda: watcher.connections == 1)
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth()).get_json()["state"] == "queued"  # kept
    with scratch_db.connect() as conn, listener_cut_off(scratch_db):
        # The change's NOTIFY reaches nobody: only the listener's reconnect can make it seen.
        repository.transition(conn, job["id"], JobState.RUNNING)
        assert read_until(client, job["id"], lambda body: body["state"] == "running")
    until(lambda: watcher.connections == 2)
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth()).get_json()["state"] == "running"


def test_job_reads_can_be_kept_from_the_store_only(app, client, scratch_db):
    documents = cached_reads(app, seconds=0)
    job = submit(client)
    for _ in range(3):
        assert client.get(f"/v1/jobs/{job['id']}", headers=auth()).status_code == 200
    assert documents.hits == 0 and len(documents) == 0
