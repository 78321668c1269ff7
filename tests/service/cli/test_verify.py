"""`deploy-gate verify-rollback`, run as a user runs it: a subprocess with real arguments."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
INIT = 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n'
ADD_POSTS = (
    'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "authorId" INT NOT NULL REFERENCES "User"("id"));\nCREATE INDEX "User_email_idx" ON "User"("email");\n'
)
WITH_SECTION = ADD_POSTS + ('\n-- ROLLBACK SQL (for reference):\n-- DROP TABLE IF EXISTS "Post";\n-- DROP INDEX IF EXISTS "User_email_idx";\n')
WITH_SHORT_SECTION = ADD_POSTS + '\n-- ROLLBACK SQL:\n-- DROP TABLE IF EXISTS "Post";\n'


def run(*args, env=None):
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SHADOW_DATABASE_URL")}
    environment.update(env or {})
    return subprocess.run([DEPLOY_GATE, *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def shadow_url(scratch_db):
    # Trust authentication ignores the password; it is there to prove it is never printed.
    return scratch_db.url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")


def scratch_databases(scratch_db):
    return {row[0] for row in scratch_db.query("SELECT datname FROM pg_database WHERE datname LIKE 'dg\\_verify\\_%'")}


def assert_secret_free(result):
    assert "hunter2" not in result.stdout and "hunter2" not in result.stderr


def test_a_rollback_section_that_undoes_everything_is_verified(shadow_url, scratch_db, write_migrations):
    base = write_migrations({"1_init": INIT, "2_posts": WITH_SECTION})
    result = run("verify-rollback", "2_posts", "--migrations", str(base), "--shadow-url", shadow_url)
    assert result.returncode == 0, result.stderr
    assert "Rollback SQL: the ROLLBACK SQL section of the migration file" in result.stdout
    assert "  table public.Post added" in result.stdout
    assert "Rollback of 2_posts verified" in result.stdout
    assert_secret_free(result)


def test_a_rollback_that_misses_an_index_is_not_verified(shadow_url, scratch_db, write_migrations):
    base = write_migrations({"1_init": INIT, "2_posts": WITH_SHORT_SECTION})
    result = run("verify-rollback", "2_posts", "--migrations", str(base), "--json", env={"SHADOW_DATABASE_URL": shadow_url})
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["verified"] is False
    assert [d["text"] for d in document["differences"]] == ["index public.User_email_idx added"]
    assert document["rollback"]["source"] == "section" and document["rollback"]["complete"] is False
    assert document["scratch_left_behind"] is False
    assert document["scratch_database"] not in scratch_databases(scratch_db)
    assert_secret_free(result)


def test_a_rollback_file_overrides_the_migrations_rollback(shadow_url, scratch_db, write_migrations, tmp_path):
    base = write_migrations({"1_init": INIT, "2_posts": WITH_SECTION})
    rollback = tmp_path / "rollback.sql"
    rollback.write_text('DROP TABLE "Post";\nDROP INDEX "User_email_idx";\nDROP TABLE "User";\n')
    result = run("verify-rollback", "2_posts", "--migrations", str(base), "--shadow-url", shadow_url, "--rollback-file", str(rollback))
    assert result.returncode == 1
    assert f"Rollback SQL: {rollback}" in result.stdout
    assert "NOT verified" in result.stdout
    assert "  table public.User missing (2 columns, 1 constraint, 1 index, 1 sequence)" in result.stdout


def test_a_failing_rollback_is_reported_and_cleaned_up(shadow_url, scratch_db, write_migrations, tmp_path):
    base = write_migrations({"1_init": INIT, "2_posts": ADD_POSTS})
    rollback = tmp_path / "rollback.sql"
    rollback.write_text('DROP TABLE "Nope";\n')
    arguments = ["verify-rollback", "2_posts", "--migrations", str(base), "--shadow-url", shadow_url, "--rollback-file", str(rollback)]
    result = run(*arguments)
    assert result.returncode == 1
    assert 'error: The rollback SQL failed (SQLSTATE 42P01): table "Nope" does not exist' in result.stderr
    as_json = run(*arguments, "--json")
    document = json.loads(as_json.stdout)
    assert document["errors"] == ['The rollback SQL failed (SQLSTATE 42P01): table "Nope" does not exist']
    assert document["scratch_database"] not in scratch_databases(scratch_db)


def test_no_rollback_sql_exits_one(shadow_url, write_migrations):
    base = write_migrations({"1_init": INIT, "2_data": 'UPDATE "User" SET "email" = lower("email");\n'})
    result = run("verify-rollback", "2_data", "--migrations", str(base), "--shadow-url", shadow_url)
    assert result.returncode == 1
    assert "there is no rollback SQL to verify" in result.stdout
    as_json = run("verify-rollback", "2_data", "--migrations", str(base), "--shadow-url", shadow_url, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["verified"] is False


def test_a_shadow_equal_to_the_target_is_refused(shadow_url, write_migrations):
    base = write_migrations({"1_init": INIT, "2_posts": WITH_SECTION})
    result = run(
        "verify-rollback",
        "2_posts",
        "--migrations",
        str(base),
        "--shadow-url",
        shadow_url,
        env={"DATABASE_URL": shadow_url.replace("127.0.0.1", "localhost")},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: The shadow database") and "is the target database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_secret_free(result)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--shadow-url", "mysql://u:hunter2@h/db"], "error: P1013: The database URL must start with postgresql://"),
        (
            ["--shadow-url", "postgresql://postgres:hunter2@127.0.0.1:1/postgres"],
            "error: P1001: Can't reach database server at `127.0.0.1`:`1` (connection refused by 127.0.0.1:1)",
        ),
        ([], "error: P1013: No shadow database URL"),
    ],
)
def test_cannot_run_exits_two_with_one_line(arguments, message, write_migrations):
    base = write_migrations({"1_init": INIT, "2_posts": WITH_SECTION})
    result = run("verify-rollback", "2_posts", "--migrations", str(base), *arguments)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_secret_free(result)


def test_an_unknown_migration_exits_two(shadow_url, write_migrations):
    base = write_migrations({"1_init": INIT})
    result = run("verify-rollback", "9_missing", "--migrations", str(base), "--shadow-url", shadow_url, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["message"] == f"Migration 9_missing is not in {base}."
