"""Following a job (service/cli/follow.py) through `wait`: the journal first, then progress while a step runs long.

`gate` follows jobs the same way: tests/service/cli/test_gate.py shows a wait for approval said at
once, and the reasons a rejected job gathered.
"""

import subprocess
import time

from service.jobs.states import JobKind, JobState
from service.store import repository
from service.store.repository.journal import insert_event
from tests.service.cli.test_jobs import DEPLOY_GATE, MIGRATIONS, SAME_CODE, idle_service, submit  # noqa: F401  the API over HTTP


def test_wait_prints_the_journal_it_has_before_it_long_polls(idle_service):
    url, app = idle_service
    job_id = submit(app, MIGRATIONS)
    env = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", **SAME_CODE}
    started = time.monotonic()
    process = subprocess.Popen([DEPLOY_GATE, "wait", job_id, "--timeout", "60"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = process.stdout.readline()
        took = time.monotonic() - started
    finally:
        process.kill()
        process.communicate()
    assert first.rstrip("\n").endswith("  new -> queued")
    assert took < 5  # not after a long-poll of 25 s


def test_a_long_step_gets_a_line_with_its_elapsed_time(idle_service):
    url, app = idle_service
    with app.extensions["deploy_gate"].pool.connection() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
        repository.transition(conn, job.id, JobState.RUNNING)
        insert_event(conn, job.id, "step_started", step="apply:20240101_patients")
    env = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", "DEPLOY_GATE_PROGRESS_SECONDS": "1", **SAME_CODE}
    result = subprocess.run([DEPLOY_GATE, "wait", job.id, "--timeout", "4"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "still running after 4 s" in result.stderr
    progress = [line for line in result.stdout.splitlines() if "apply:20240101_patients still running after " in line]
    assert 2 <= len(progress) <= 5, result.stdout
    assert progress[-1].split(" after ")[1].endswith("s")
