"""Benchmark: the ops console's server-side render time with 10,000 jobs in the store.

A scratch store holds `--jobs` jobs (default 10,000) over 20 targets, in every state, each with a
short journal, and one recover job with a long one (the page people open most during an incident).
The app runs in this process; each page is requested `--runs` times through Flask's test client,
signed in as an operator, and the time from request to rendered body is measured (no network, no
browser: what the server spends). p50 and p99 per page are printed as a Markdown table.

    make bench-console        # or: .venv/bin/python bench/console.py --jobs 10000 --runs 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from flask.testing import FlaskClient
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config.load import load_config  # noqa: E402
from service.config.records import hash_token  # noqa: E402
from service.config.settings import Settings  # noqa: E402
from service.http import create_app  # noqa: E402
from service.jobs.states import JobKind, JobState, Verdict  # noqa: E402
from service.store import repository  # noqa: E402
from service.store.repository import NewJob  # noqa: E402

ADMIN_URL = os.environ.get("DEPLOY_GATE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "bench-operator-token"
TARGETS = [f"service-{index:02d}" for index in range(20)]
KINDS = [JobKind.CHECK, JobKind.DEPLOY, JobKind.DEPLOY, JobKind.RECOVER]
# A target's history as a status step reads it: 40 applied migrations and one pending.
STATUS_ROWS = [{"name": f"2024{index:04d}_step", "state": "applied", "edited": False} for index in range(40)] + [
    {"name": "20250101_next", "state": "pending", "edited": False}
]


def db_url(name: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)


def fill_store(url: str, jobs: int) -> str:
    """`jobs` jobs with short journals; returns the id of a recover job with a long journal."""
    with psycopg.connect(url, autocommit=True) as conn:
        repository.migrate_store(conn)
        batch: list[NewJob] = []
        made = 0
        for index in range(jobs):
            kind = KINDS[index % len(KINDS)]
            batch.append(NewJob(kind, TARGETS[index % len(TARGETS)], "ci", {"phase": "pre", "commit": f"{index:07x}"}))
            if len(batch) == 500 or index == jobs - 1:
                created = repository.create_jobs(conn, batch)
                for offset, (job, _) in enumerate(created):
                    position = made + offset
                    if position % 10 == 0:
                        continue  # left queued
                    repository.transition(conn, job.id, JobState.RUNNING)
                    repository.record_step(conn, job.id, "status", "started")
                    repository.record_step(conn, job.id, "status", "finished", {"up_to_date": True, "migrations": []})
                    verdict = Verdict.BLOCKED if position % 7 == 0 else Verdict.PROCEED
                    reasons = ['migration 20240102_visits failed (42P07: relation "Visit" already exists)'] if verdict is Verdict.BLOCKED else []
                    # As the runner leaves it: the facts hold what the status step read.
                    facts = {"status": {"up_to_date": verdict is Verdict.PROCEED, "migrations": STATUS_ROWS}}
                    repository.transition(conn, job.id, JobState.SUCCEEDED, verdict=verdict, reasons=reasons, facts=facts)
                made += len(created)
                batch = []
        [(incident, _)] = repository.create_jobs(conn, [NewJob(JobKind.RECOVER, TARGETS[0], "ci", {"phase": "failed"})])
        repository.transition(conn, incident.id, JobState.RUNNING)
        for round_number in range(1, 16):
            step = f"wait_for_lock:{round_number}"
            repository.record_step(conn, incident.id, step, "started")
            repository.record_step(
                conn, incident.id, step, "finished", {"lock_holder": {"pid": 4242, "application_name": "psql"}, "reasons": ["a session holds the lock"]}
            )
        repository.transition(conn, incident.id, JobState.SUCCEEDED, verdict=Verdict.PROCEED, reasons=["re-applied after the lock holder let go"])
        return incident.id


def timed(client: FlaskClient, path: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or not body:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    store = f"bench_console_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(store)))
    try:
        started = time.perf_counter()
        incident = fill_store(db_url(store), args.jobs)
        print(f"stored {args.jobs} jobs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with tempfile.TemporaryDirectory() as workdir:
            config_file = Path(workdir) / "deploy-gate.toml"
            targets = "".join(f'[targets.{name}]\ndatabase_url_env = "BENCH_TARGET_URL"\n\n' for name in TARGETS)
            config_file.write_text(
                'console_session_secret_env = "BENCH_CONSOLE_SECRET"\n\n'
                f'[tokens.operator]\nsha256 = "{hash_token(TOKEN)}"\nscopes = ["read", "approve", "deploy"]\n\n{targets}'
            )
            os.environ.update({"BENCH_TARGET_URL": db_url(store), "BENCH_CONSOLE_SECRET": uuid.uuid4().hex * 2})
            settings = Settings.from_env({"DEPLOY_GATE_DATABASE_URL": db_url(store), "DEPLOY_GATE_CONFIG": str(config_file)})
            app = create_app(settings, load_config(config_file), enqueue=lambda *job_ids: None)
            try:
                client = app.test_client()
                # The sign-in form carries a CSRF token bound to the session, as every console form does.
                form = client.get("/console/login").get_data(as_text=True)
                csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                signed_in = client.post("/console/login", data={"token": TOKEN, "csrf_token": csrf})
                if signed_in.status_code != 303:
                    raise SystemExit(f"sign-in answered {signed_in.status_code}")
                pages = {
                    "jobs, newest first": "/console/jobs",
                    "jobs of one target, succeeded": f"/console/jobs?target={TARGETS[3]}&state=succeeded",
                    "a recover job (30 journal entries)": f"/console/jobs/{incident}",
                    "targets overview (20 targets)": "/console/",
                }
                print(f"| page ({args.jobs:,} jobs in the store) | p50 | p99 |\n| --- | --- | --- |")
                for label, path in pages.items():
                    timed(client, path, 5)  # warm-up: templates compiled, pool filled
                    samples = sorted(timed(client, path, args.runs))
                    p99 = samples[min(len(samples) - 1, round(len(samples) * 0.99) - 1)]
                    print(f"| {label} | {statistics.median(samples):.1f} ms | {p99:.1f} ms |")
            finally:
                app.extensions["deploy_gate"].close()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(store)))


if __name__ == "__main__":
    main()
