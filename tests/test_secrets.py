"""Database passwords used in the suite appear in no response, log line, journal event or CLI output.

The machine's PostgreSQL trusts local connections, so a URL may carry any password: the one below
travels through configuration, connections, failures and reports, and must surface nowhere.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from service.config.records import Config, Policy, Target, Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.jobs.runner import Deferred, run_job
from service.log_config import json_formatter
from service.prisma.database import parse_database_url
from tests.store import migrated_store

PASSWORD = "Sup3r-S3cret-pw"
DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
AUTH = {"Authorization": "Bearer ci-token"}


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def test_no_password_in_responses_logs_or_the_journal(scratch_db, target_db, caplog):
    caplog.set_level(logging.DEBUG)
    config = Config(
        {
            "staging": Target("staging", parse_database_url(with_password(target_db.url)), Policy()),
            "down": Target("down", parse_database_url(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x"), Policy()),
        },
        (Token("ci", hash_token("ci-token"), frozenset({"deploy", "read", "approve"})),),
    )
    settings = Settings(database_url=with_password(migrated_store(scratch_db)), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    queued = []
    app = create_app(settings, config, enqueue=lambda *job_ids: queued.extend(job_ids))
    client = app.test_client()
    seen = []
    try:
        migrations = [
            {"name": "1_ok", "sql": 'CREATE TABLE "A" (id int);'},
            {"name": "2_fails", "sql": f"SELECT '{PASSWORD[:4]}' || 1/0;"},
        ]
        for target in ("staging", "down"):
            response = client.post("/v1/deploys", json={"target": target, "apply": True, "migrations": migrations}, headers=AUTH)
            seen.append(response.get_data(as_text=True))
        with scratch_db.connect() as store:
            run_job(store, config, queued[0], enqueue=lambda *job_ids: queued.extend(job_ids))
            with pytest.raises(Deferred) as raised:  # the unreachable target is journaled, then waited for
                run_job(store, config, queued[1])
            seen.append(str(raised.value))
            run_job(store, config, queued[2])  # the recover job the failed apply started
            seen.extend(json.dumps(row, default=str) for row in store.execute("SELECT to_jsonb(job) FROM job").fetchall())
            seen.extend(json.dumps(row, default=str) for row in store.execute("SELECT to_jsonb(job_event) FROM job_event").fetchall())
        for path in [
            "/v1/jobs",
            f"/v1/jobs/{queued[0]}",
            f"/v1/jobs/{queued[1]}",
            f"/v1/jobs/{queued[2]}",
            f"/v1/jobs/{queued[2]}/report",
            f"/v1/jobs/{queued[2]}/report?format=markdown",
            f"/v1/jobs/{queued[0]}/report?format=markdown",
            "/v1/targets",
            "/v1/targets/staging/status",
            "/readyz",
            "/metrics",
            "/v1/targets/nope/status",
        ]:
            response = client.get(path, headers=AUTH)
            seen.append(response.get_data(as_text=True))
            seen.append(str(dict(response.headers)))
    finally:
        app.extensions["deploy_gate"].pool.close()
    seen.extend(record.getMessage() for record in caplog.records)
    seen.extend(str(record.args) for record in caplog.records)
    # As the processes write them: one JSON object per line, tracebacks and fields included.
    seen.extend(json_formatter().format(record) for record in caplog.records)
    assert any('"verdict": "blocked"' in text or "blocked" in text for text in seen)
    leaks = [text[:200] for text in seen if PASSWORD in text]
    assert leaks == []


def test_no_password_in_cli_output(write_migrations, scratch_db):
    base = write_migrations({"1_ok": "CREATE TABLE a (id int);", "2_fails": "SELECT 1/0;"})
    urls = [with_password(scratch_db.url), f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x", f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/x"]
    outputs = []
    for url in urls:
        for args in (
            ["status"],
            ["deploy"],
            ["status", "--json"],
            ["resolve", "--rolled-back", "2_fails"],
            ["verify-rollback", "2_fails", "--shadow-url", url],
        ):
            result = subprocess.run([DEPLOY_GATE, *args, "--migrations", str(base), "--database-url", url], capture_output=True, text=True, timeout=60)
            outputs.append(result.stdout + result.stderr)
    assert any("42P01" in text or "22012" in text for text in outputs)
    assert [text[:200] for text in outputs if PASSWORD in text] == []
