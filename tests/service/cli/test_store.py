"""`deploy-gate migrate-store`: the release step that brings the store's schema up to date."""

import json
import os
import subprocess
import sys
from pathlib import Path

from service.store.repository import pending_store_migrations

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
SAME_CODE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}


def migrate_store(database_url, *args):
    env = {**os.environ, **SAME_CODE, "DEPLOY_GATE_DATABASE_URL": database_url}
    return subprocess.run([DEPLOY_GATE, "migrate-store", *args], capture_output=True, text=True, env=env, timeout=60)


def test_it_applies_the_store_migrations_once(scratch_db):
    with scratch_db.connect() as conn:
        before = pending_store_migrations(conn)
    assert before  # a fresh database has none of them

    first = migrate_store(scratch_db.url, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["applied"] == before
    with scratch_db.connect() as conn:
        assert pending_store_migrations(conn) == []

    again = migrate_store(scratch_db.url)
    assert again.returncode == 0 and again.stdout.strip() == "The store is up to date."


def test_an_unreachable_store_is_one_line_and_exit_2_without_the_password():
    result = migrate_store("postgresql://deploy:s3cret@127.0.0.1:1/deploy_gate")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: P1001: Cannot reach the store database: Can't reach database server at `127.0.0.1`:`1` (connection refused by 127.0.0.1:1)"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3cret" not in result.stdout + result.stderr
