"""The API under gunicorn, started as `make run`, the Procfile and docker-compose.yml start it."""

import http.client
import json
import re
import runpy
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.config.records import hash_token
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.store import migrated_store, record_live_worker

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
ROOT = Path(__file__).resolve().parents[3]


def gunicorn_refusing_to_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """gunicorn started on `env` as the launchers start it, expected to stop before it serves."""
    return subprocess.run(
        [GUNICORN, "service.http.wsgi:application()", "--bind", "127.0.0.1:0", "--workers", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )


def test_a_bad_targets_file_stops_gunicorn_with_one_clear_line(tmp_path, scratch_db):
    config = tmp_path / "deploy-gate.toml"
    config.write_text('[targets.prod]\ndatabase_url_env = "NOT_SET_ANYWHERE"\n')
    env = {"PATH": "/usr/bin:/bin", "DEPLOY_GATE_CONFIG": str(config), "DEPLOY_GATE_DATABASE_URL": scratch_db.url}
    result = gunicorn_refusing_to_start(env)
    assert result.returncode != 0
    assert f"deploy-gate: configuration error: {config}: targets.prod.database_url_env: environment variable NOT_SET_ANYWHERE is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_log_level_stops_gunicorn_with_one_clear_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DEPLOY_GATE_LOG_LEVEL": "loud"}
    result = gunicorn_refusing_to_start(env)
    assert result.returncode != 0
    assert "deploy-gate: configuration error: DEPLOY_GATE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_that_is_not_migrated_stops_gunicorn_with_what_to_run(tmp_path, scratch_db):
    config = tmp_path / "deploy-gate.toml"
    config.write_text("")
    env = {"PATH": "/usr/bin:/bin", "DEPLOY_GATE_CONFIG": str(config), "DEPLOY_GATE_DATABASE_URL": scratch_db.url}
    result = gunicorn_refusing_to_start(env)
    assert result.returncode != 0
    assert "deploy-gate: the store's schema is not current" in result.stderr
    assert "run `deploy-gate migrate-store` first" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port, path, headers=None, timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@contextmanager
def gunicorn_serving(tmp_path, scratch_db, target_db, workers=1):
    """gunicorn started as `make run` starts it (settings from ./gunicorn.conf.py), on a scratch store,
    with the console on: (port, the API's headers, the server process)."""
    token = "wsgi-test-token"
    config = tmp_path / "deploy-gate.toml"
    config.write_text(
        'console_session_secret_env = "CONSOLE_SECRET"\n\n'
        f'[tokens.ci]\nsha256 = "{hash_token(token)}"\nscopes = ["deploy", "read"]\n\n[targets.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\n'
    )
    port = free_port()
    store_url = migrated_store(scratch_db)
    record_live_worker(scratch_db)  # /readyz wants a worker; none runs here
    env = {
        "PATH": "/usr/bin:/bin",
        "DEPLOY_GATE_CONFIG": str(config),
        "DEPLOY_GATE_DATABASE_URL": store_url,
        "DEPLOY_GATE_BROKER_URL": "redis://127.0.0.1:6379/15",
        "STAGING_DATABASE_URL": target_db.url,
        "CONSOLE_SECRET": "a-console-secret-for-the-wsgi-tests",
        "WEB_CONCURRENCY": str(workers),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [GUNICORN, "service.http.wsgi:application()", "--bind", f"127.0.0.1:{port}", "--no-control-socket"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if get(port, "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn was not ready within 60 s"
            time.sleep(0.1)
        yield port, {"Authorization": f"Bearer {token}"}, server
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def served(tmp_path, scratch_db, target_db):
    with gunicorn_serving(tmp_path, scratch_db, target_db) as (port, headers, _):
        yield port, headers


def test_parked_long_polls_leave_the_server_free_to_answer(served, scratch_db):
    port, headers = served
    with scratch_db.connect() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.CHECK, target="staging", requested_by="ci")
    answers = []

    def poll():
        answers.append(get(port, f"/v1/jobs/{job.id}?wait=25", headers, timeout=40))

    # Far more than the threads a gthread worker would have: one worker, each poll parked.
    polls = [threading.Thread(target=poll) for _ in range(60)]
    for thread in polls:
        thread.start()
    time.sleep(1.0)
    assert answers == []
    started = time.monotonic()
    assert get(port, "/healthz", timeout=2) == (200, {"status": "ok"})
    assert get(port, f"/v1/jobs/{job.id}", headers, timeout=2)[1]["state"] == "queued"
    assert time.monotonic() - started < 1.0
    with scratch_db.connect() as conn:
        repository.transition(conn, job.id, JobState.RUNNING)
    for thread in polls:
        thread.join(30)
    assert len(answers) == 60 and {(status, body["state"]) for status, body in answers} == {(200, "running")}
    assert get(port, f"/v1/jobs/{job.id}", headers)[1]["state"] == "running"


def text_of(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection each: any worker may answer
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.read().decode()
    finally:
        conn.close()


def sample(metrics, name, absent=None):
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match or absent is not None, f"{name} not in:\n{metrics}"
    return float(match.group(1)) if match else absent


def test_metrics_add_up_every_gunicorn_worker_whichever_answers_the_scrape(tmp_path, scratch_db, target_db):
    with gunicorn_serving(tmp_path, scratch_db, target_db, workers=2) as (port, headers, server):
        workers = {int(pid) for pid in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()}
        assert len(workers) == 2
        healthz = 'deploy_gate_http_request_seconds_count{endpoint="/healthz",method="GET",status="200"}'
        scraped = 'deploy_gate_http_request_seconds_count{endpoint="/metrics",method="GET",status="200"}'
        for _ in range(40):
            get(port, "/healthz")
        # Each scrape counts all 40 and every scrape before it, whichever worker answers (each new
        # connection lands on either): without adding the workers up, the counts would jump about.
        for scrape in range(20):
            metrics = text_of(port, "/metrics", headers)
            assert sample(metrics, healthz) == 40.0
            assert sample(metrics, scraped, absent=0.0) == scrape, metrics

        # Parked long-polls on both workers are added up (livesum), and gone once they are answered.
        with scratch_db.connect() as conn:
            job, _ = repository.create_job(conn, kind=JobKind.CHECK, target="staging", requested_by="ci")
        answers = []
        polls = [threading.Thread(target=lambda: answers.append(get(port, f"/v1/jobs/{job.id}?wait=25", headers, timeout=40))) for _ in range(10)]
        for poll in polls:
            poll.start()
        deadline = time.monotonic() + 15
        while sample(text_of(port, "/metrics", headers), "deploy_gate_long_polls_parked") != 10.0:
            assert time.monotonic() < deadline, text_of(port, "/metrics", headers)
            time.sleep(0.1)
        with scratch_db.connect() as conn:
            repository.transition(conn, job.id, JobState.RUNNING)
        for poll in polls:
            poll.join(30)
        assert len(answers) == 10
        assert sample(text_of(port, "/metrics", headers), "deploy_gate_long_polls_parked") == 0.0


def test_gunicorn_writes_one_json_object_per_line_and_a_json_access_line_per_request(served, tmp_path):
    port, headers = served
    assert get(port, "/healthz")[0] == 200
    # A report link's token is a capability: the access line keeps the parameter, not its value.
    assert get(port, "/v1/jobs/no-such-job/report?format=markdown&token=c0ffee-capability", headers)[0] == 404
    log = tmp_path / "gunicorn.log"
    deadline = time.monotonic() + 10
    while "/v1/jobs/no-such-job/report" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert {"gunicorn.error", "gunicorn.access"} <= {line["logger"] for line in lines}
    assert all({"event", "level", "logger", "timestamp"} <= line.keys() for line in lines)
    requests = {line["path"]: line for line in lines if line["logger"] == "gunicorn.access"}
    assert requests["/healthz"]["method"] == "GET" and requests["/healthz"]["status"] == 200 and requests["/healthz"]["event"] == "request"
    assert requests["/v1/jobs/no-such-job/report"]["status"] == 404
    assert requests["/v1/jobs/no-such-job/report"]["query"] == "format=markdown&token=****"
    assert "c0ffee-capability" not in text and headers["Authorization"] not in text and "wsgi-test-token" not in text


def test_gunicorn_settings_are_in_one_file_that_every_launcher_uses(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # else reading the file makes a directory for its metrics
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gevent" and settings["reuse_port"] is True
    launchers = [(ROOT / "Procfile").read_text(), (ROOT / "scripts" / "run-dev.sh").read_text(), (ROOT / "docker-compose.yml").read_text()]
    for text in launchers:
        assert "service.http.wsgi:application()" in text
        assert "--worker-class" not in text and "--threads" not in text
        # The store's migrations are the release step each launcher runs, before the API starts.
        assert "deploy-gate migrate-store" in text
        assert text.index("deploy-gate migrate-store") < text.index("service.http.wsgi:application()")
    assert "COPY gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()


def test_a_worker_told_to_stop_ends_its_event_streams_and_exits_at_once(tmp_path, scratch_db, target_db):
    """An open console page must not hold a stopping worker for gunicorn's whole graceful timeout."""
    with gunicorn_serving(tmp_path, scratch_db, target_db) as (port, _, server):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/console/login")
            login = conn.getresponse()
            cookie = login.getheader("Set-Cookie").split(";", 1)[0]
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.read().decode()).group(1)
            form = f"token=wsgi-test-token&csrf_token={csrf}"
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            conn.request("POST", "/console/login", body=form, headers=headers)
            signed_in = conn.getresponse()
            signed_in.read()
            assert signed_in.status == 303
            stream.request("GET", "/console/events", headers={"Cookie": signed_in.getheader("Set-Cookie").split(";", 1)[0]})
            events = stream.getresponse()
            assert events.status == 200 and events.readline() == b": connected\n"
            stopping = time.monotonic()
            server.terminate()
            server.wait(30)
            assert time.monotonic() - stopping < 10  # gunicorn's graceful timeout is 30 s
        finally:
            conn.close()
            stream.close()
