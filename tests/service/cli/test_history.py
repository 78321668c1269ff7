"""The `deploy-gate` console script, run as a user runs it: a subprocess with real arguments."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.password_postgres import password_postgres  # noqa: F401 (a fixture)
from tests.service.prisma.history_helpers import history_rows, lock_held_elsewhere

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
INIT = 'CREATE TABLE "User" ("id" INT);\n'


def run(*args, url=None, env_url=None):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if env_url:
        env["DATABASE_URL"] = env_url
    command = [DEPLOY_GATE, *args] + (["--database-url", url] if url else [])
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def url(scratch_db):
    # Trust authentication ignores the password; it is there to prove it is never printed.
    return scratch_db.url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")


def assert_secret_free(result):
    assert "hunter2" not in result.stdout and "hunter2" not in result.stderr


def test_status_deploy_status_round_trip(url, write_migrations):
    base = write_migrations({"1_init": INIT, "2_dup": INIT})
    before = run("status", "--migrations", str(base), url=url)
    assert before.returncode == 1
    assert "pending" in before.stdout and "2 not yet applied" in before.stdout

    deployed = run("deploy", "--migrations", str(base), url=url)
    assert deployed.returncode == 1
    assert "Applying migration `1_init`" in deployed.stdout
    assert "P3018" in deployed.stderr and "42P07" in deployed.stderr

    after = run("status", "--migrations", str(base), "--json", url=url)
    assert after.returncode == 1
    document = json.loads(after.stdout)
    assert document["summary"]["applied"] == ["1_init"]
    assert document["summary"]["failed"] == ["2_dup"]
    assert document["migrations"][1]["failure"]["sqlstate"] == "42P07"
    for result in (before, deployed, after):
        assert_secret_free(result)


def test_resolve_then_status_is_up_to_date(url, write_migrations, scratch_db):
    base = write_migrations({"1_init": INIT, "2_dup": INIT})
    run("deploy", "--migrations", str(base), url=url)
    resolved = run("resolve", "--rolled-back", "2_dup", "--migrations", str(base), env_url=url)
    assert resolved.returncode == 0, resolved.stderr
    assert "marked as rolled back" in resolved.stdout
    applied = run("resolve", "--applied", "2_dup", "--migrations", str(base), "--json", env_url=url)
    assert applied.returncode == 0
    assert json.loads(applied.stdout)["marked"] == "applied"
    status = run("status", "--migrations", str(base), env_url=url)
    assert status.returncode == 0
    assert "Database schema is up to date!" in status.stdout


def test_up_to_date_deploy_exits_zero(url, write_migrations):
    base = write_migrations({"1_init": INIT})
    assert run("deploy", "--migrations", str(base), url=url).returncode == 0
    again = run("deploy", "--migrations", str(base), "--json", url=url)
    assert again.returncode == 0
    assert json.loads(again.stdout) | {"target": None} == {
        "target": None,
        "prisma_version": 6,
        "succeeded": True,
        "applied": [],
        "failure": None,
        "created_migrations_table": False,
    }


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("resolve", "--rolled-back", "9_x"), "P3011", "never applied"),
        (("resolve", "--rolled-back", "1_init"), "P3012", "not in a failed state"),
        (("resolve", "--applied", "1_init"), "P3008", "already recorded as applied"),
        (("resolve", "--applied", "9_x"), "P3017", "could not be found"),
    ],
)
def test_resolve_preconditions_are_one_line_and_exit_1(url, write_migrations, args, code, message):
    base = write_migrations({"1_init": INIT})
    run("deploy", "--migrations", str(base), url=url)
    result = run(*args, "--migrations", str(base), url=url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {code}: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_p3009_and_p3005_are_one_line(url, write_migrations, scratch_db):
    base = write_migrations({"1_init": INIT, "2_dup": INIT})
    run("deploy", "--migrations", str(base), url=url)
    blocked = run("deploy", "--migrations", str(base), url=url)
    assert blocked.returncode == 1
    assert blocked.stderr.strip().splitlines() == [blocked.stderr.strip().splitlines()[0]] and "P3009" in blocked.stderr and "`2_dup` (42P07" in blocked.stderr

    scratch_db.query("DROP TABLE _prisma_migrations")
    not_empty = run("deploy", "--migrations", str(base), url=url)
    assert not_empty.returncode == 1
    assert not_empty.stderr.startswith("error: P3005: The database schema is not empty.")


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda base, url: ("status", "--migrations", str(base / "nope"), "--database-url", url), "does not exist"),
        (lambda base, url: ("status", "--migrations", str(base), "--database-url", "mysql://u:hunter2@h/d"), "postgresql://"),
        (
            lambda base, url: ("status", "--migrations", str(base), "--database-url", "postgresql://u:hunter2@127.0.0.1:1/d"),
            "error: P1001: Can't reach database server at `127.0.0.1`:`1` (connection refused by 127.0.0.1:1)",
        ),
        (
            lambda base, url: ("status", "--migrations", str(base), "--database-url", url + "_nope"),
            "error: P1003: Database `",
        ),
        (lambda base, url: ("status", "--migrations", str(base)), "No database URL"),
        (lambda base, url: ("resolve", "--migrations", str(base), "--database-url", url), "exactly one of"),
    ],
)
def test_errors_are_one_clear_line_and_exit_2(url, write_migrations, make_args, message):
    base = write_migrations({"1_init": INIT})
    result = run(*make_args(base, url))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_secret_free(result)


def test_non_utf8_migration_is_refused(url, write_migrations):
    base = write_migrations({"1_latin1": b"-- \xe9\n"})
    result = run("status", "--migrations", str(base), url=url)
    assert result.returncode == 2
    assert "not valid UTF-8" in result.stderr


def test_missing_migration_file_is_p3015(url, write_migrations):
    base = write_migrations({"1_init": INIT, "2_empty": None})
    result = run("deploy", "--migrations", str(base), url=url)
    assert result.returncode == 1
    assert "P3015" in result.stderr


def test_lock_held_is_reported_with_its_holder(url, write_migrations, scratch_db):
    base = write_migrations({"1_init": INIT})
    with lock_held_elsewhere(scratch_db.conninfo, "release-pipeline") as pid:
        status = run("status", "--migrations", str(base), url=url)
        deploy = run("deploy", "--migrations", str(base), "--lock-wait", "0.5", url=url)
    assert f"held by pid {pid} (release-pipeline)" in status.stdout
    assert deploy.returncode == 2
    assert "P1002" in deploy.stderr and "release-pipeline" in deploy.stderr


def test_json_errors_are_json(url, write_migrations):
    base = write_migrations({"1_init": INIT})
    run("deploy", "--migrations", str(base), url=url)
    result = run("resolve", "--rolled-back", "9_unknown", "--migrations", str(base), "--json", url=url)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "P3011"


def test_timeouts_reach_the_session(url, write_migrations, scratch_db):
    base = write_migrations({"1_slow": "SELECT pg_sleep(3);"})
    result = run("deploy", "--migrations", str(base), "--statement-timeout", "100", url=url)
    assert result.returncode == 1
    assert "57014" in result.stderr
    with scratch_db.connect() as conn:
        assert "Database error code: 57014" in history_rows(conn)[0]["logs"]


def test_a_wrong_password_is_p1000_as_prisma_says_it(password_postgres, write_migrations):
    base = write_migrations({"1_init": INIT})
    result = run("status", "--migrations", str(base), "--database-url", password_postgres.url(password="wrong-hunter2"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: P1000: Authentication failed against database server at `127.0.0.1`, the provided database credentials for `postgres` are not valid."
    ]
    assert "wrong-hunter2" not in result.stdout + result.stderr
    # The right password passes the same server: the refusal was the password's.
    assert run("status", "--migrations", str(base), "--database-url", password_postgres.url()).returncode == 1
