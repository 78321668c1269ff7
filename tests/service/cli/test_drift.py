"""`deploy-gate drift`, run as a user runs it: a subprocess with real arguments, a real target and shadow server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.prisma.deploy import deploy
from service.prisma.migrations import read_migrations_directory
from tests.replays import drop_templates

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
INIT = 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n'
PHONE = 'ALTER TABLE "Patient" ADD COLUMN "phone" TEXT;\n'
LATER = 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);\n'


def run(*args, env=None):
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SHADOW_DATABASE_URL")}
    environment.update(env or {})
    return subprocess.run([DEPLOY_GATE, *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def shadow_url(scratch_db):
    # Trust authentication ignores the password; it is there to prove it is never printed.
    return scratch_db.url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")


@pytest.fixture
def deployed(target_db, write_migrations):
    """Two migrations applied to the target, a third pending."""
    init = f"-- {target_db.name}\n{INIT}"  # a history of this test's own: its replays are its own
    base = write_migrations({"1_init": init, "2_phone": PHONE})
    with target_db.connect() as conn:
        assert deploy(conn, "public", read_migrations_directory(base)).failure is None
    write_migrations({"1_init": init, "2_phone": PHONE, "3_visits": LATER})
    yield base
    drop_templates(f"/{target_db.name} ")  # the replays this target's runs built on the shared server


def assert_secret_free(result):
    assert "hunter2" not in result.stdout and "hunter2" not in result.stderr


def test_no_drift_exits_0_and_a_pending_migration_is_not_drift(deployed, target_db, shadow_url):
    result = run("drift", "--migrations", str(deployed), "--database-url", target_db.url, "--shadow-url", shadow_url)
    assert result.returncode == 0, result.stderr
    assert "Compared: 2 applied migrations (1_init … 2_phone), schema public" in result.stdout
    assert "No drift: the target's schema is what its applied migrations make" in result.stdout
    assert_secret_free(result)


def test_drift_is_named_in_words_and_exits_1(deployed, target_db, shadow_url):
    target_db.query('CREATE INDEX "Patient_email_idx" ON "Patient" ("email"); ALTER TABLE "Patient" DROP COLUMN "phone"')
    result = run("drift", "--migrations", str(deployed), "--database-url", target_db.url, "--shadow-url", shadow_url)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert '+ index "Patient_email_idx" ON "Patient" (email) — not in the migrations' in lines
    assert '- column "Patient".phone text — in the migrations, not on the target' in lines
    assert "Drift: 2 differences between the target and its migrations" in result.stdout
    assert_secret_free(result)


def test_json_and_ignore_patterns(deployed, target_db, shadow_url):
    target_db.query('CREATE INDEX "Patient_email_idx" ON "Patient" ("email"); CREATE TABLE "pgbouncer_stats" ("n" INT)')
    result = run(
        "drift", "--migrations", str(deployed), "--json", "--ignore", "table:pgbouncer_*",
        env={"DATABASE_URL": target_db.url, "SHADOW_DATABASE_URL": shadow_url},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["drifted"] is True and document["applied"] == ["1_init", "2_phone"]
    assert [(d["kind"], d["name"], d["change"]) for d in document["differences"]] == [("index", "public.Patient_email_idx", "added")]
    assert [(d["name"], d["ignored_by"]) for d in document["ignored"]] == [("public.pgbouncer_stats", "table:pgbouncer_*")]
    assert document["replay"]["built"] in (True, False)
    assert_secret_free(result)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "No shadow database URL: pass --shadow-url or set SHADOW_DATABASE_URL."),
        (("--shadow-url", "SHADOW", "--ignore", "gadget:*"), "--ignore 'gadget:*': unknown kind 'gadget'"),
        (("--shadow-url", "TARGET"), "is the target database"),
        (("--shadow-url", "postgresql://postgres:hunter2@127.0.0.1:1/x"), "P1001"),
    ],
    ids=["no-shadow", "bad-pattern", "shadow-is-target", "shadow-down"],
)
def test_what_keeps_it_from_running_exits_2(deployed, target_db, shadow_url, arguments, message):
    arguments = tuple(shadow_url if a == "SHADOW" else target_db.url if a == "TARGET" else a for a in arguments)
    result = run("drift", "--migrations", str(deployed), "--database-url", target_db.url, *arguments)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert_secret_free(result)


def test_an_applied_migration_missing_from_the_directory_cannot_be_replayed(deployed, target_db, shadow_url, write_migrations, tmp_path):
    only_first = write_migrations({"1_init": f"-- {target_db.name}\n{INIT}"}, directory=tmp_path / "other")
    result = run("drift", "--migrations", str(only_first), "--database-url", target_db.url, "--shadow-url", shadow_url)
    assert result.returncode == 2
    assert "applied on the target but not in" in result.stderr and "2_phone" in result.stderr
