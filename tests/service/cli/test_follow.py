"""Following a job (service/cli/follow.py) through `wait`: the journal first, then progress while a step runs long.

`gate` follows jobs the same way: tests/service/cli/test_gate.py shows a wait for approval said at
once, and the reasons a rejected job gathered.
"""

import subprocess
import time

from service.analysis.lint import lint_migrations
from service.analysis.lint.registry import deploy_risk_families
from service.jobs.lint_step import lint_step_data
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.migrations import migrations_from_bundle
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


def test_wait_prints_the_lint_counts_and_the_warnings_that_matter_after_the_lint_step(idle_service):
    url, app = idle_service
    # Both lock a table someone else made; only the second is pending.
    bundle = migrations_from_bundle(
        {"20240101_visit_index": 'CREATE INDEX "Visit_id_idx" ON "Visit"("id");', "20240102_index": 'CREATE INDEX "Patient_id_idx" ON "Patient"("id");'}
    )
    findings = [finding.to_dict() for finding in lint_migrations(bundle)]
    with app.extensions["deploy_gate"].pool.connection() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.CHECK, target="staging", requested_by="ci")
        repository.transition(conn, job.id, JobState.RUNNING)
        insert_event(conn, job.id, "step_finished", step="status", data={"to_deploy": ["20240102_index"]})
        insert_event(conn, job.id, "step_finished", step="lint", data=lint_step_data(findings, deploy_risk_families()))
        repository.transition(conn, job.id, JobState.SUCCEEDED, verdict=Verdict.PROCEED)
    env = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", **SAME_CODE}

    result = subprocess.run([DEPLOY_GATE, "wait", job.id, "--timeout", "30"], capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    after = lines[lines.index(next(line for line in lines if line.endswith("  lint finished"))) + 1 :]
    assert after[0].startswith("  lint (target staging's policy): ") and after[0].endswith(" in the pending migrations")
    warnings = [f for f in findings if f["severity"] == "warning" and f["family"] in deploy_risk_families() and f["migration"] == "20240102_index"]
    assert warnings and all(f"    20240102_index line {f['line']}: {f['rule']} ({f['family']}): {f['message']}" in after for f in warnings)
    assert any(f["migration"] == "20240101_visit_index" and f["family"] in deploy_risk_families() for f in findings)
    assert not any(line.startswith("    20240101_visit_index") for line in after)  # applied already: counted, not listed
