"""`deploy-gate gate` as a build runs it: a subprocess against the API served over HTTP.

The end-to-end tests run the jobs on a real Celery worker (the session worker of tests/workers,
Redis db 14); the others answer with a small fake service to show retries and idempotency.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from werkzeug.serving import make_server

from service.analysis.lint import lint_migrations
from service.analysis.lint.registry import deploy_risk_families
from service.cli.gate import BuildContext, detect_build, idempotency_key
from service.config.load import load_lint_target
from service.config.records import Config, Policy, Target, Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.jobs.states import JobKind
from service.prisma.database import parse_database_url
from service.prisma.migrations import read_migrations_directory
from service.store import repository
from tests.broker import sending_through
from tests.service.prisma.history_helpers import history_rows
from tests.store import migrated_store
from tests.workers.conftest import (  # noqa: F401  the real worker's fixtures
    celery_config,
    celery_includes,
    celery_worker_parameters,
    celery_worker_pool,
    reconfigure_staging,
    service_env,
)
from workers import state

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
# The command runs the code under test, wherever PYTHONPATH points this run (a worktree, say).
SAME_CODE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
FAST = ("--retries", "2", "--backoff", "0.05", "--timeout", "60")
PATIENTS = {"20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}
VISITS = {"20240102_visits": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'}
VERCEL = {"VERCEL": "1", "VERCEL_ENV": "staging", "VERCEL_GIT_COMMIT_SHA": "3f5c2a9e" * 5, "VERCEL_DEPLOYMENT_ID": "dpl_7Gw5ZMBpQA8h9GF832KGp7nwbuh3"}
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a1b2c3d4" * 5, "GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "1"}


def gate(*args, url, token="ci-token", env=None):
    environment = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": token, "PATH": "/usr/bin:/bin", **SAME_CODE, **(env or {})}
    return subprocess.run([DEPLOY_GATE, "gate", *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def waits_for_blockers(service_env):
    """The staging target with a short lock_timeout, so a held lock fails a migration quickly, and
    a minute for a retry to wait out the sessions in its way (the tests release them sooner)."""
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    config_file.write_text(config_file.read_text().replace("lock_timeout_ms = 2000\n", "lock_timeout_ms = 300\nretry_wait_seconds = 60\n"))
    state.reset()


@pytest.fixture
def service(service_env, celery_session_app, celery_session_worker):
    """The API over HTTP on the service_env stores; its jobs go to the real session worker."""
    app = create_app(Settings.from_env(), enqueue=sending_through(celery_session_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["deploy_gate"].pool.close()


def deploy_jobs(app):
    with app.extensions["deploy_gate"].pool.connection() as conn:
        return [job for job in repository.list_jobs(conn, target="staging", limit=50) if job.kind is JobKind.DEPLOY]


def test_a_clean_deploy_in_a_vercel_build_applies_the_migrations_and_exits_0(service, target_db, write_migrations):
    url, app = service
    directory = write_migrations({**PATIENTS, **VISITS})
    # No --target: a Vercel build gates on the target named like its environment.
    result = gate("--migrations", str(directory), "--apply", *FAST, url=url, env=VERCEL)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"gate: apply the migrations in {directory} on target staging, commit 3f5c2a9e3f5c, deployment dpl_7Gw5ZMBpQA8h9GF832KGp7nwbuh3, in Vercel (staging), as the target's Prisma runs them"
    )
    # The count comes from the job's status step: the pending ones, printed once it is known.
    status = lines.index(next(line for line in lines if line.endswith("  status finished")))
    assert lines[status + 1] == "gate: apply 2 pending migrations of 2 in the bundle: 20240101_patients, 20240102_visits"
    assert any(line.endswith("apply:20240102_visits finished") for line in lines)
    assert lines[-1] == "verdict: proceed"
    with target_db.connect() as conn:
        rows = history_rows(conn)
    assert [(row["migration_name"], row["finished_at"] is not None) for row in rows] == [("20240101_patients", True), ("20240102_visits", True)]
    [job] = deploy_jobs(app)
    assert job.params["commit"] == VERCEL["VERCEL_GIT_COMMIT_SHA"] and job.params["deployment_id"] == VERCEL["VERCEL_DEPLOYMENT_ID"]
    assert "ci-token" not in result.stdout + result.stderr


def test_the_gate_prints_each_failed_attempt_to_reach_the_target_as_it_happens_then_the_blocked_verdict(service, write_migrations, monkeypatch):
    url, _ = service
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reconfigure_staging(monkeypatch, f"postgresql://deployer:hunter2@127.0.0.1:{port}/app", unreachable_timeout_seconds=2)
    result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=url)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    tried = [line[10:] for line in lines if "target unreachable (attempt" in line]
    said = f"target unreachable (attempt 1, P1001): connection refused by 127.0.0.1:{port}; next try in "
    assert tried[0].startswith(said) and tried[0].endswith(" s (0 of 2 s)"), lines
    assert len(tried) >= 2 and tried[-1].startswith(
        f"target unreachable (attempt {len(tried)}, P1001): connection refused by 127.0.0.1:{port}; giving up after "
    )
    assert tried[-1].endswith(" s (unreachable_timeout_seconds = 2)")
    assert f"reason: target unreachable: connection refused by 127.0.0.1:{port}" in lines and lines[-1] == "verdict: blocked"
    assert "hunter2" not in result.stdout + result.stderr


def test_the_same_build_step_run_again_gets_the_same_job(service, write_migrations):
    url, app = service
    directory = write_migrations(PATIENTS)
    first = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url, env=GITHUB)
    second = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url, env=GITHUB)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    [job] = deploy_jobs(app)
    assert first.stdout.splitlines()[1] == f"deploy job {job.id}: queued"
    assert (
        second.stdout.splitlines()[1]
        == f"deploy job {job.id} was started by an earlier attempt of this build: succeeded; its verdict stands (--new asks for a new one)"
    )
    assert second.stdout.splitlines()[-1] == "verdict: proceed"
    assert (job.params["commit"], job.params["deployment_id"]) == (GITHUB["GITHUB_SHA"], "github-run-9876543210-1")
    # A re-run of the workflow is a new attempt: a new job, nothing left to apply.
    third = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url, env={**GITHUB, "GITHUB_RUN_ATTEMPT": "2"})
    assert third.returncode == 0 and len(deploy_jobs(app)) == 2


def test_a_syntax_error_is_blocked_by_lint_before_apply(service, target_db, write_migrations):
    url, _ = service
    directory = write_migrations({**PATIENTS, "20240102_typo": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY;'})
    result = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(line.startswith("reason: lint syntax-error in 20240102_typo") for line in result.stdout.splitlines()), result.stdout
    assert result.stdout.splitlines()[-1] == "verdict: blocked"
    with target_db.connect() as conn:
        assert not conn.execute("SELECT to_regclass('_prisma_migrations')").fetchone()[0] or history_rows(conn) == []


@pytest.fixture
def index_warnings_lowered(service_env):
    """Staging's policy sets index-without-concurrently to info."""
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    policy = "\n\n[targets.staging.policy]\n"
    config_file.write_text(config_file.read_text().replace(policy, '\nlint = { "index-without-concurrently" = "info" }' + policy))
    state.reset()
    return {"index-without-concurrently": "info"}


def test_the_gate_shows_the_lint_counts_and_the_warnings_that_matter_for_the_migrations_it_applies(index_warnings_lowered, service, write_migrations):
    url, _ = service
    assert gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=url).returncode == 0
    # A transaction trap (explicit BEGIN/COMMIT); the index's own rule lowered to info.
    index = {"20240102_index": 'BEGIN;\nCREATE INDEX "Patient_id_idx" ON "Patient"("id");\nCOMMIT;\n'}
    directory = write_migrations({**PATIENTS, **index})

    result = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # What the target's policy makes of the bundle, linted here.
    # A deploy that applies sets the policy's timeouts on the session, so the job lints with them.
    timeouts = load_lint_target(Path(os.environ["DEPLOY_GATE_CONFIG"]), "staging").policy.session_timeouts
    findings = lint_migrations(read_migrations_directory(directory), index_warnings_lowered, timeouts)
    counts = {level: sum(1 for f in findings if f.severity == level) for level in ("warning", "info")}
    matter = [f for f in findings if f.severity == "warning" and f.family in deploy_risk_families() and f.migration == "20240102_index"]
    assert "explicit-transaction-control" in {f.rule for f in matter}
    finished = lines.index(next(line for line in lines if line.endswith("  lint finished")))
    migrations = len({f.migration for f in findings})
    assert lines[finished + 1] == (
        f"  lint (target staging's policy): {counts['warning']} warning{'' if counts['warning'] == 1 else 's'}, {counts['info']} info in {migrations} migrations; "
        f"warnings that matter for this deploy ({', '.join(deploy_risk_families())}): {len(matter)} in the pending migrations"
    )
    shown = lines[finished + 2 : finished + 2 + 2 * len(matter)]
    assert shown[0::2] == [f"    {f.migration} line {f.line}: {f.rule} ({f.family}): {f.message}" for f in matter]
    assert shown[1::2] == [f"      help: {f.help}" for f in matter]
    assert "index-without-concurrently" not in result.stdout  # info by the target's policy: counted, not listed
    assert lines[-1] == "verdict: proceed"


def test_a_failing_migration_is_recovered_and_blocked_with_its_sqlstate(service, target_db, write_migrations):
    url, _ = service
    directory = write_migrations({**PATIENTS, "20240102_divide": "SELECT 1/0;"})
    result = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    recovery = next(line for line in lines if "recovery running" in line)
    assert "after migration 20240102_divide failed (22012: division by zero)" in recovery
    reasons = [line for line in lines if line.startswith("reason: recover job ")]
    assert reasons and any("22012" in line for line in reasons), result.stdout
    assert lines[-1] == "verdict: blocked"
    with target_db.connect() as conn:
        rows = {row["migration_name"]: row for row in history_rows(conn)}
    assert rows["20240101_patients"]["finished_at"] is not None
    assert rows["20240102_divide"]["rolled_back_at"] is not None


def test_the_gate_shows_a_recovery_waiting_for_a_lock_as_it_happens(waits_for_blockers, service, target_db, write_migrations):
    url, _ = service
    assert gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=url).returncode == 0
    directory = write_migrations({**PATIENTS, "20240102_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;'})
    holder = psycopg.connect(target_db.conninfo, application_name="reporting")
    holder_pid = holder.info.backend_pid
    holder.execute('LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE')
    environment = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", **SAME_CODE}
    command = [DEPLOY_GATE, "gate", "--target", "staging", "--migrations", str(directory), "--apply", *FAST]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    lines = []
    try:
        # The gate's own output is the signal: the session lets go once the gate shows the wait.
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "waiting for 1 session holding locks on" in line:
                break
    finally:
        holder.rollback()
        holder.close()
    rest, errors = process.communicate(timeout=120)
    lines += rest.splitlines()
    assert process.returncode == 0, "\n".join(lines) + errors
    waiting = next(line for line in lines if "waiting for 1 session holding locks on" in line)
    assert (
        f': waiting for 1 session holding locks on "Patient": pid {holder_pid} (reporting, idle in transaction) `LOCK TABLE "Patient" IN ACCESS EXCLUSIVE MODE` for '
        in waiting
    )
    assert "; next look in " in waiting and " of 60 s waited)" in waiting
    recovering = next(line for line in lines if "recovery running" in line)
    child = recovering.split("recover job ")[1].split()[0]
    assert waiting[8:].startswith(f"  recover job {child[:8]}: ")
    assert any(f"recover job {child[:8]}: " in line and 'no session holds a lock on "Patient" that 20240102_email must wait for' in line for line in lines)
    assert lines[-1] == "verdict: proceed"
    with target_db.connect() as conn:
        assert conn.execute("""SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'""").fetchone()


def test_a_stopped_service_exits_2_after_its_retries(write_migrations):
    started = time.monotonic()
    result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), *FAST, url="http://127.0.0.1:1", token="s3cret-token")
    assert result.returncode == 2
    first, second, last = result.stderr.splitlines()
    assert first.startswith("cannot reach http://127.0.0.1:1: ") and first.endswith("(1/2)") and second.endswith("(2/2)")
    assert last == "error: cannot reach http://127.0.0.1:1: [Errno 111] Connection refused"
    assert time.monotonic() - started < 10
    assert "s3cret-token" not in result.stdout + result.stderr


def test_no_verdict_within_the_timeout_exits_2(scratch_db, write_migrations):
    config = Config(
        {"staging": Target("staging", parse_database_url(scratch_db.url), Policy())}, (Token("ci", hash_token("ci-token"), frozenset({"deploy", "read"})),)
    )
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, config, enqueue=lambda *job_ids: None)  # nothing ever runs the job
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = gate(
            "--target",
            "staging",
            "--migrations",
            str(write_migrations(PATIENTS)),
            "--timeout",
            "3",
            url=f"http://127.0.0.1:{server.server_port}",
            env={"DEPLOY_GATE_PROGRESS_SECONDS": "1"},
        )
    finally:
        server.shutdown()
        app.extensions["deploy_gate"].pool.close()
    assert result.returncode == 2
    assert result.stderr.startswith("error: job ") and "is still queued after 3 s" in result.stderr
    # While it waits, the build log says why: no worker took the job, for how long.
    waited = [int(line.split(" for ")[1].removesuffix(" s")) for line in result.stdout.splitlines() if "no worker has taken this job for " in line]
    assert waited and waited == sorted(waited) and 1 <= waited[-1] <= 3, result.stdout


@pytest.mark.parametrize(
    "scripts, message",
    [(None, "does not exist"), ({"20240101_latin1": b"SELECT '\xff';"}, "is not valid UTF-8"), ({"20240101_empty": None}, "P3015")],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, write_migrations, scripts, message):
    directory = write_migrations(scripts) if scripts is not None else tmp_path / "missing"
    result = gate("--target", "staging", "--migrations", str(directory), url="http://127.0.0.1:1")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_no_target_is_exit_2(write_migrations):
    result = gate("--migrations", str(write_migrations(PATIENTS)), url="http://127.0.0.1:1")
    assert result.returncode == 2 and result.stderr == "error: No target: pass --target or set DEPLOY_GATE_TARGET.\n"


class FakeService:
    """Answers POST /v1/deploys with `answers` in turn (then 202), and GET with a job finished with `verdict`."""

    JOB = {"id": "00000000-0000-4000-8000-000000000001", "kind": "deploy", "state": "succeeded", "verdict": "proceed", "reasons": []}

    def __init__(self, answers=(), verdict="proceed"):
        self.answers = list(answers)
        self.verdict = verdict
        self.posts = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.posts.append((dict(self.headers), body))
                status = fake.answers.pop(0) if fake.answers else 202
                if status in (202, 200):
                    self.answer(status, {**FakeService.JOB, "state": "queued", "verdict": None})
                else:
                    self.answer(status, {"title": "Nope", "detail": f"answer {status}"}, {"Retry-After": "0"})

            def do_GET(self):
                event = {
                    "id": 1,
                    "at": "2024-01-01T00:00:01+00:00",
                    "kind": "transition",
                    "step": None,
                    "from_state": "running",
                    "to_state": "succeeded",
                    "data": {},
                }
                reasons = ["lint drop-table in 20240101_patients line 1: dropping a table loses its data"] if fake.verdict == "blocked" else []
                self.answer(200, {**FakeService.JOB, "verdict": fake.verdict, "reasons": reasons, "events": [event]})

            def answer(self, status, document, headers=None):
                data = json.dumps(document).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_answers_are_asked_again_with_the_same_idempotency_key(write_migrations, status):
    with FakeService([status, status]) as fake:
        result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=fake.url, env=VERCEL)
    assert result.returncode == 0, result.stderr
    assert [line.split(";")[0] for line in result.stderr.splitlines()] == [f"{status} Nope: answer {status}"] * 2
    keys = {headers["Idempotency-Key"] for headers, _ in fake.posts}
    assert len(fake.posts) == 3 and len(keys) == 1
    _, body = fake.posts[0]
    assert body == {
        "target": "staging",
        "phase": "pre",
        "apply": True,
        "commit": VERCEL["VERCEL_GIT_COMMIT_SHA"],
        "deployment_id": VERCEL["VERCEL_DEPLOYMENT_ID"],
        "migrations": [{"name": "20240101_patients", "sql": PATIENTS["20240101_patients"]}],
        "lock_provider": "postgresql",
    }


def test_other_errors_are_not_asked_again(write_migrations):
    with FakeService([422]) as fake:
        result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), *FAST, url=fake.url)
    assert result.returncode == 2 and result.stderr == "error: 422 Nope: answer 422\n"
    assert len(fake.posts) == 1


def test_too_many_transient_answers_exit_2(write_migrations):
    with FakeService([503, 503, 503]) as fake:
        result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), *FAST, url=fake.url)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == "error: 503 Nope: answer 503"
    assert len(fake.posts) == 3


def test_build_context_from_vercel_and_github_actions():
    assert detect_build(VERCEL) == BuildContext("Vercel", VERCEL["VERCEL_GIT_COMMIT_SHA"], VERCEL["VERCEL_DEPLOYMENT_ID"], "staging")
    assert detect_build({**VERCEL, "VERCEL_TARGET_ENV": "qa"}).environment == "qa"
    assert detect_build(GITHUB) == BuildContext("GitHub Actions", GITHUB["GITHUB_SHA"], "github-run-9876543210-1")
    assert detect_build({"HOME": "/root"}) == BuildContext()


def test_idempotency_key_names_the_build_and_the_bundle():
    key = idempotency_key("staging", True, "abc", "dpl_1", "digest")
    assert key == idempotency_key("staging", True, "abc", "dpl_1", "digest") and len(key) <= 200
    others = {
        idempotency_key(*args)
        for args in [
            ("production", True, "abc", "dpl_1", "digest"),
            ("staging", False, "abc", "dpl_1", "digest"),
            ("staging", True, "abd", "dpl_1", "digest"),
            ("staging", True, "abc", "dpl_2", "digest"),
            ("staging", True, "abc", "dpl_1", "other"),
        ]
    }
    assert key not in others and len(others) == 5
    # Without a deployment, every run is its own request.
    assert idempotency_key("staging", True, "abc", None, "digest") != idempotency_key("staging", True, "abc", None, "digest")


@pytest.fixture
def approver(service_env):
    """A token with the approve scope, for the person the gate tells how to approve."""
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    config_file.write_text(config_file.read_text() + f'\n[tokens.oncall]\nsha256 = "{hash_token("oncall-token")}"\nscopes = ["approve", "read"]\n')
    state.reset()
    return "oncall-token"


def test_the_gate_shows_a_recovery_waiting_for_approval_and_how_to_give_it(approver, service, target_db, write_migrations):
    url, _ = service
    assert gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=url).returncode == 0
    # Someone made the table by hand: the migration fails with 42P07 while every effect is present.
    # Without a shadow to replay on, marking it applied waits for a person.
    target_db.query('CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY)')
    directory = write_migrations({**PATIENTS, **VISITS})
    environment = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", **SAME_CODE}
    command = [DEPLOY_GATE, "gate", "--target", "staging", "--migrations", str(directory), "--apply", *FAST]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    lines, arrived = [], {}
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        arrived[len(lines) - 1] = time.monotonic()
        if line.strip().startswith("approve: deploy-gate jobs approve "):
            break
    # Said at once, not after a long-poll (25 s) of a recover job that waits already.
    recovering = lines.index(next(line for line in lines if "recovery running" in line))
    assert arrived[len(lines) - 1] - arrived[recovering] < 10
    # The person does what the gate says.
    recover_id = lines[-1].split("deploy-gate jobs approve ")[1].split()[0]
    approved = subprocess.run(
        [DEPLOY_GATE, "jobs", "approve", recover_id, "--comment", "made by hand, same shape"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": approver, "PATH": "/usr/bin:/bin", **SAME_CODE},
    )
    assert approved.returncode == 0, approved.stderr
    rest, errors = process.communicate(timeout=120)
    lines += rest.splitlines()

    assert process.returncode == 0, "\n".join(lines) + errors
    waiting = lines.index(f"  recover job {recover_id} waits for a person to approve its plan:")
    assert any("without a replay on a shadow server" in line for line in lines[waiting:] if line.startswith("    why: "))
    assert "    plan: approve to record 20240102_visits as applied" in lines[waiting:]
    assert f"    console: {url}/console/jobs/{recover_id}" in lines[waiting:]
    assert any("act:1 approved by oncall: made by hand, same shape" in line for line in lines)
    assert lines[-1] == "verdict: proceed"
    with target_db.connect() as conn:
        assert [row["finished_at"] is not None for row in history_rows(conn) if row["migration_name"] == "20240102_visits"] == [False, True]


def test_after_a_rejection_the_gate_prints_the_reasons_the_job_gathered(approver, service, target_db, write_migrations):
    url, _ = service
    assert gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), "--apply", *FAST, url=url).returncode == 0
    target_db.query('CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY)')
    environment = {"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", "PATH": "/usr/bin:/bin", **SAME_CODE}
    command = [DEPLOY_GATE, "gate", "--target", "staging", "--migrations", str(write_migrations({**PATIENTS, **VISITS})), "--apply", *FAST]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.strip().startswith("approve: deploy-gate jobs approve "):
            break
    recover_id = lines[-1].split("deploy-gate jobs approve ")[1].split()[0]
    rejected = subprocess.run(
        [DEPLOY_GATE, "jobs", "reject", recover_id, "--comment", "not the shape we want"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": approver, "PATH": "/usr/bin:/bin", **SAME_CODE},
    )
    assert rejected.returncode == 0, rejected.stderr
    rest, errors = process.communicate(timeout=120)
    lines += rest.splitlines()
    assert process.returncode == 1, "\n".join(lines) + errors
    verdict = lines[lines.index(next(line for line in lines if line.startswith("reason: "))) :]
    assert f"reason: recover job {recover_id}: rejected by oncall: not the shape we want" in verdict
    gathered = [line for line in verdict if line.endswith("(while it waited for approval)")]
    assert any("without a replay on a shadow server" in line for line in gathered), "\n".join(lines)
    assert verdict[-1] == "verdict: blocked"


def test_new_asks_for_a_new_job_in_the_same_build_and_says_so(service, write_migrations):
    url, app = service
    directory = write_migrations(PATIENTS)
    first = gate("--target", "staging", "--migrations", str(directory), "--apply", *FAST, url=url, env=GITHUB)
    again = gate("--target", "staging", "--migrations", str(directory), "--apply", "--new", *FAST, url=url, env=GITHUB)
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    jobs = deploy_jobs(app)
    assert len(jobs) == 2
    assert again.stdout.splitlines()[1] == f"deploy job {jobs[0].id}: queued (a new job, as --new asks)"
    assert "gate: apply 0 pending migrations of 1 in the bundle" in again.stdout.splitlines()


def test_no_token_names_the_variable_and_the_option(write_migrations):
    result = gate("--target", "staging", "--migrations", str(write_migrations(PATIENTS)), url="http://127.0.0.1:1", token="")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: No token: pass --token or set DEPLOY_GATE_TOKEN (a bearer token the service's config grants).\n"


CONCURRENT = {
    **PATIENTS,
    "20240102_index": 'ALTER TABLE "Patient" ADD COLUMN "name" TEXT;\nCREATE INDEX CONCURRENTLY "Patient_name_idx" ON "Patient" ("name");\n',
}


def prisma_project(tmp_path, write_migrations, scripts, lockfile):
    """A project as a build checks it out: package.json and a lockfile beside prisma/migrations."""
    (tmp_path / "package.json").write_text(json.dumps({"name": "shop", "devDependencies": {"prisma": "^7.4.0"}}))
    (tmp_path / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {"node_modules/prisma": {"version": lockfile}}}))
    migrations = tmp_path / "prisma" / "migrations"
    migrations.parent.mkdir()
    return write_migrations(scripts).rename(migrations)


def test_the_gate_sends_the_projects_prisma_version_and_the_job_follows_it(service, target_db, write_migrations, tmp_path):
    """The lockfile names prisma 7.10.1: the deploy carries prisma_version 7, so the worker lints and
    applies the file with CREATE INDEX CONCURRENTLY as Prisma 7's engine runs it, statement by statement."""
    url, app = service
    directory = prisma_project(tmp_path, write_migrations, CONCURRENT, "7.10.1")
    result = gate("--migrations", str(directory), "--apply", "--target", "staging", *FAST, url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].endswith(", as Prisma 7 runs them")
    (job,) = deploy_jobs(app)
    assert job.params["prisma_version"] == 7
    with target_db.connect() as conn:
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('\"Patient_name_idx\"')").fetchone() == (True,)


def test_a_project_on_prisma_8_is_refused_before_anything_is_sent(tmp_path, write_migrations):
    directory = prisma_project(tmp_path, write_migrations, PATIENTS, "8.0.0-rc.19")
    result = gate("--migrations", str(directory), "--target", "staging", *FAST, url="http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: package-lock.json names prisma 8.0.0-rc.19: Prisma 8 (a database marker and migration.ts/ops.json migrations) "
        "is not supported; see docs/prisma-8.md."
    ]
    assert result.stdout == ""
