"""`jobs` and `wait` (service/cli/jobs.py) against the real API served over HTTP, jobs run by the real runner."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.config.records import Config, Policy, Target, Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState
from service.prisma.database import parse_database_url
from service.store import repository
from tests.conftest import create_scratch_database, drop_scratch_database
from tests.store import migrated_store

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
# The command runs the code under test, wherever PYTHONPATH points this run (a worktree, say).
SAME_CODE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
MIGRATIONS = [{"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}]


@pytest.fixture
def service(scratch_db):
    target_db = create_scratch_database()
    config = Config(
        {"staging": Target("staging", parse_database_url(target_db.url), Policy())},
        (Token("ci", hash_token("ci-token"), frozenset({"deploy", "read"})), Token("oncall", hash_token("oncall-token"), frozenset({"read", "approve"}))),
    )

    def run_later(*job_ids):
        def work(job_id):
            time.sleep(0.5)  # long enough for `wait` to see the job change under it
            with scratch_db.connect() as store:
                run_job(store, config, job_id, enqueue=run_later)

        for job_id in job_ids:
            threading.Thread(target=work, args=(job_id,), daemon=True).start()

    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, config, enqueue=run_later)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["deploy_gate"].pool.close()
    drop_scratch_database(target_db)


def run(*args, url, token="ci-token"):
    env = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": token, "PATH": "/usr/bin:/bin", **SAME_CODE}
    return subprocess.run([DEPLOY_GATE, *args], capture_output=True, text=True, env=env, timeout=60)


def submit(app, migrations):
    response = app.test_client().post(
        "/v1/deploys", json={"target": "staging", "apply": True, "migrations": migrations}, headers={"Authorization": "Bearer ci-token"}
    )
    assert response.status_code == 202
    return response.get_json()["id"]


def test_wait_follows_a_job_to_proceed(service):
    url, app = service
    job_id = submit(app, MIGRATIONS)
    result = run("wait", job_id, url=url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "new -> queued" in lines[0]
    assert any("apply:20240101_patients finished" in line for line in lines)
    assert lines[-1] == "verdict: proceed"


def test_wait_exits_1_on_blocked_with_the_reason(service):
    url, app = service
    job_id = submit(app, MIGRATIONS + [{"name": "20240102_dup", "sql": 'CREATE TABLE "Patient" ("id" INT, "note" TEXT);'}])
    result = run("wait", job_id, url=url)
    assert result.returncode == 1
    assert ': 20240102_dup failed with 42P07 (already-exists): relation "Patient" already exists' in result.stdout
    assert result.stdout.splitlines()[-1] == "verdict: blocked"
    # The deploy waits for its recover job: `wait` follows that job's steps as they happen.
    with app.extensions["deploy_gate"].pool.connection() as conn:
        recover_job = repository.finished_steps(conn, job_id)["recover"]["job"]
    lines = result.stdout.splitlines()
    assert any(line.endswith(f"  recover job {recover_job[:8]}: decide:1 finished") for line in lines)
    assert lines.index(next(line for line in lines if line.endswith(f"recover job {recover_job[:8]}: running -> succeeded"))) < lines.index(
        next(line for line in lines if line.endswith("  running -> succeeded"))
    )


def test_wait_on_a_deploy_that_ended_already_shows_its_recover_jobs_steps_in_place(service):
    url, app = service
    job_id = submit(app, MIGRATIONS + [{"name": "20240102_dup", "sql": 'CREATE TABLE "Patient" ("id" INT, "note" TEXT);'}])
    assert run("wait", job_id, url=url).returncode == 1  # now the deploy has ended

    lines = run("wait", job_id, url=url).stdout.splitlines()
    with app.extensions["deploy_gate"].pool.connection() as conn:
        recover_job = repository.finished_steps(conn, job_id)["recover"]["job"]
    child_done = lines.index(next(line for line in lines if line.endswith(f"recover job {recover_job[:8]}: running -> succeeded")))
    started = lines.index(next(line for line in lines if "recovery running after" in line))
    assert started < child_done < lines.index(next(line for line in lines if line.endswith("  running -> succeeded")))
    assert any(line.endswith(f"  recover job {recover_job[:8]}: decide:1 finished") for line in lines)


def test_jobs_list_and_show(service):
    url, app = service
    job_id = submit(app, MIGRATIONS)
    run("wait", job_id, url=url)
    listing = run("jobs", "list", "--json", url=url)
    assert [job["id"] for job in json.loads(listing.stdout)["jobs"]] == [job_id]
    shown = run("jobs", "show", job_id, url=url)
    assert f"deploy job {job_id} on staging: succeeded, verdict proceed" in shown.stdout


def test_jobs_list_filters_by_every_kind_of_job(service):
    url, app = service
    deploy_id = submit(app, MIGRATIONS)
    with app.extensions["deploy_gate"].pool.connection() as conn:
        failover, _ = repository.create_job(conn, kind=JobKind.FAILOVER, target="staging", requested_by="ops", params={"replica": "staging-replica"})
    listing = run("jobs", "list", "--kind", "failover", "--json", url=url)
    assert listing.returncode == 0, listing.stderr
    assert [job["id"] for job in json.loads(listing.stdout)["jobs"]] == [failover.id]
    rows = run("jobs", "list", "--kind", "failover", url=url).stdout.splitlines()[1:]
    assert len(rows) == 1 and rows[0].startswith(failover.id) and "  failover staging " in rows[0] and deploy_id not in rows[0]


def test_wait_times_out_with_exit_2(scratch_db):
    config = Config(
        {"staging": Target("staging", parse_database_url(scratch_db.url), Policy())}, (Token("ci", hash_token("ci-token"), frozenset({"deploy", "read"})),)
    )
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, config, enqueue=lambda *job_ids: None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        job_id = submit(app, MIGRATIONS)
        started = time.monotonic()
        result = run("wait", job_id, "--timeout", "2", url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        app.extensions["deploy_gate"].pool.close()
    assert result.returncode == 2 and "still queued after 2 s" in result.stderr
    assert time.monotonic() - started < 10


def waiting_job(app):
    with app.extensions["deploy_gate"].pool.connection() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.RECOVER, target="staging", requested_by="ci")
        repository.transition(conn, job.id, JobState.RUNNING)
        repository.transition(conn, job.id, JobState.WAITING_APPROVAL, facts={"approval": {"step": "act:1", "plan": ["drop it"]}})
    return job.id


def test_jobs_approve_and_reject(service):
    url, app = service
    approved, rejected = waiting_job(app), waiting_job(app)
    result = run("jobs", "approve", approved, "--comment", "looked", url=url, token="oncall-token")
    assert result.returncode == 0 and f"recover job {approved}: running" in result.stdout
    result = run("jobs", "reject", rejected, url=url, token="oncall-token")
    assert result.returncode == 0 and f"recover job {rejected}: succeeded, verdict blocked" in result.stdout
    with app.extensions["deploy_gate"].pool.connection() as conn:
        repository.record_notification_outcome(conn, approved, notification="approval_needed", delivery_id="d-1", outcome="gave_up", attempt=9)
    shown = run("jobs", "show", approved, url=url, token="oncall-token")
    assert "act:1 approved by oncall: looked" in shown.stdout
    assert "approval_needed notification gave up" in shown.stdout
    refused = run("jobs", "approve", rejected, url=url, token="ci-token")
    assert refused.returncode == 2 and "403 Forbidden" in refused.stderr


@pytest.fixture
def idle_service(scratch_db):
    """The API over HTTP with nothing running its jobs: they stay as the test leaves them."""
    config = Config(
        {"staging": Target("staging", parse_database_url(scratch_db.url), Policy())},
        (Token("ci", hash_token("ci-token"), frozenset({"deploy", "read"})), Token("oncall", hash_token("oncall-token"), frozenset({"read", "approve"}))),
    )
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, config, enqueue=lambda *job_ids: None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["deploy_gate"].pool.close()


def test_jobs_show_the_waiting_plan_and_the_console_page(service):
    url, app = service
    job_id = waiting_job(app)
    shown = run("jobs", "show", job_id, url=url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"  recover job {job_id} waits for a person to approve its plan:" in lines
    assert "    plan: drop it" in lines
    assert f"    console: {url}/console/jobs/{job_id}" in lines
    assert any(line.strip().startswith(f"approve: deploy-gate jobs approve {job_id} ") for line in lines)


def test_jobs_report_in_markdown_and_json(service):
    url, app = service
    job_id = submit(app, MIGRATIONS)
    assert run("wait", job_id, url=url).returncode == 0
    markdown = run("jobs", "report", job_id, url=url)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("#") and job_id in markdown.stdout
    document = run("jobs", "report", job_id, "--format", "json", url=url)
    assert document.returncode == 0, document.stderr
    assert json.loads(document.stdout)["job"]["id"] == job_id


def test_jobs_cancel(idle_service):
    url, app = idle_service
    job_id = submit(app, MIGRATIONS)
    result = run("jobs", "cancel", job_id, url=url)
    assert result.returncode == 0 and result.stdout == f"deploy job {job_id}: canceled\n"
    again = run("jobs", "cancel", job_id, url=url)
    assert again.returncode == 2 and len(again.stderr.splitlines()) == 1


def test_jobs_list_has_a_header_and_says_when_there_are_none(idle_service):
    url, app = idle_service
    empty = run("jobs", "list", url=url)
    assert empty.returncode == 0 and empty.stdout == "No jobs yet.\n"
    filtered = run("jobs", "list", "--state", "failed", url=url)
    assert filtered.stdout == "No jobs match these filters.\n"
    job_id = submit(app, MIGRATIONS)
    header, row = run("jobs", "list", url=url).stdout.splitlines()
    assert header.split() == ["ID", "CREATED", "(UTC)", "KIND", "TARGET", "STATE", "VERDICT"]
    assert row.split()[0] == job_id and row.split()[2:] == ["deploy", "staging", "queued"]
