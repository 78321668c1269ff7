"""Schemathesis against the live app: every operation of openapi.yaml, through its examples, coverage,
fuzzing and stateful phases, with a token that has every scope and with none. 0 failures.

The app is served over HTTP on 127.0.0.1 (werkzeug's threaded server, in this process) on a real
store and the real Redis broker (deploys enqueue; no worker runs them). A worker's heartbeat thread
records a live worker, so that `/readyz` answers `ready` as it does in production. Schemathesis runs as its own
CLI with a fixed seed and a bounded number of examples per operation. Webhook bodies are signed by
tests/schemathesis_hooks.py, so the fuzzed deliveries get past the signature to the parsing.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.config.records import Config, GitHubIntegration, Integrations, Policy, RdsSettings, Target, Token, VercelIntegration, VercelProject, hash_token
from service.config.settings import Settings
from service.http import create_app, webhooks
from service.prisma.database import parse_database_url
from tests.contract import SPEC_PATH
from tests.schemathesis_hooks import GITHUB_SECRET, VERCEL_SECRET
from tests.store import migrated_store
from workers.liveness import Heartbeat

pytestmark = pytest.mark.schemathesis

REDIS_DB = int(os.environ.get("DEPLOY_GATE_TEST_REDIS_DB", "14"))
TOKEN = "fuzz-token"
SEED = 20261204
# Per operation and phase: with 20 operations and two runs this keeps the whole under 3 minutes on 2 cores.
MAX_EXAMPLES = int(os.environ.get("DEPLOY_GATE_SCHEMATHESIS_EXAMPLES", "60"))
ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = [{"name": "20240101000000_init", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}]


@pytest.fixture
def served(scratch_db, target_db):
    database = parse_database_url(target_db.url)
    targets = {
        name: Target(name, database, Policy(lock_timeout_ms=2000), rds=RdsSettings("us-east-1", instance=f"{name}-db", read_replica=f"{name}-db-replica"))
        for name in ("production", "staging")
    }
    vercel = VercelIntegration(VERCEL_SECRET, {"prj_fuzz": VercelProject("prj_fuzz", {"production": "production", "preview": "staging"})})
    github = GitHubIntegration(GITHUB_SECRET, 1, "unused", {"octo/shop:production": "production"}, api_url="https://api.github.test")
    config = Config(
        targets,
        (Token("fuzz", hash_token(TOKEN), frozenset({"deploy", "read", "approve"})),),
        integrations=Integrations(vercel, github, "https://gate.example.com"),
    )
    settings = Settings(database_url=migrated_store(scratch_db), broker_url=f"redis://127.0.0.1:6379/{REDIS_DB}", config_file=None, max_bundle_bytes=256 * 1024)
    # A long-poll answers after a second at most: the run waits on no job that nothing works on.
    settings = dataclasses.replace(settings, long_poll_max_seconds=1.0)
    app = create_app(settings, config)
    extension = app.extensions["deploy_gate"]
    broker = extension.broker
    # A queue of this test's own: no worker takes what the run enqueues, and it is purged after.
    broker.queue = broker.app.conf.task_default_queue = f"dg-fuzz-{os.getpid()}"
    app.extensions[webhooks.REPORT_SYNC] = lambda job_id, source: broker.app.send_task("unused.sync", args=[job_id, source], queue=broker.queue)
    client = app.test_client()
    for target in targets:  # a stored bundle, so that a valid check or recovery is accepted
        assert client.post("/v1/deploys", json={"target": target, "migrations": MIGRATIONS}, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 202
    heartbeat = Heartbeat(f"schemathesis-{os.getpid()}", settings.database_url, interval=settings.worker_heartbeat_seconds)
    heartbeat.start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        heartbeat.stop()
        with broker.app.connection_for_write() as connection:
            connection.default_channel.queue_purge(broker.queue)
        extension.close()


def run_schemathesis(url: str, tmp_path: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(SPEC_PATH),
        "--url",
        url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: hypothesis describes strategies with ast.parse, which CPython 3.11 before
        # 3.11.8 cannot run in two threads at once ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    for header in headers:
        command += ["--header", header]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("authorized", [True, False], ids=["with-token", "without-token"])
def test_schemathesis_finds_no_failure(served, tmp_path, authorized):
    started = time.monotonic()
    result = run_schemathesis(served, tmp_path, *([f"Authorization: Bearer {TOKEN}"] if authorized else []))
    took = time.monotonic() - started
    print(result.stdout[-20000:], f"\n(took {took:.0f} s)")
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
