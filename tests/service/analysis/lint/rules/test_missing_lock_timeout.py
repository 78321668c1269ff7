import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "missing-lock-timeout"


def test_reported_once_at_the_first_blocking_statement():
    finding = lint_one('SELECT 1;\nALTER TABLE "User" ADD COLUMN "a" INT;\nALTER TABLE "Post" ADD COLUMN "b" INT;', RULE)
    assert finding.line == 2
    assert finding.message.startswith('this statement locks "User" in ACCESS EXCLUSIVE mode')


@pytest.mark.parametrize(
    "sql, lock",
    [
        ('CREATE INDEX "i" ON "Post" ("x");', '"Post" in SHARE mode'),
        ('ALTER TABLE "Post" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "User"("id");', '"Post" in SHARE ROW EXCLUSIVE mode'),
        ('DROP INDEX "i";', 'the table of index "i" in ACCESS EXCLUSIVE mode'),
        ('TRUNCATE "Post";', '"Post" in ACCESS EXCLUSIVE mode'),
        ('ALTER TABLE "Post" RENAME COLUMN "a" TO "b";', '"Post" in ACCESS EXCLUSIVE mode'),
        ('CREATE TRIGGER "t" AFTER INSERT ON "Post" FOR EACH ROW EXECUTE FUNCTION f();', '"Post" in SHARE ROW EXCLUSIVE mode'),
        ('DROP TRIGGER IF EXISTS "t" ON "public"."Post";', '"public"."Post" in ACCESS EXCLUSIVE mode'),
        ('ALTER TABLE "Post" SET SCHEMA "archive";', '"Post" in ACCESS EXCLUSIVE mode'),
    ],
)
def test_statements_that_take_blocking_locks_are_reported(sql, lock):
    assert f"locks {lock}" in lint_one(sql, RULE).message


def test_a_timeout_set_after_the_statement_is_too_late():
    lint_one('ALTER TABLE "User" ADD COLUMN "a" INT;\nSET lock_timeout = \'5s\';', RULE)


def test_a_timeout_set_to_zero_or_reset_does_not_count():
    lint_one('SET lock_timeout = 0;\nALTER TABLE "User" ADD COLUMN "a" INT;', RULE)
    lint_one('SET lock_timeout = \'5s\';\nRESET lock_timeout;\nALTER TABLE "User" ADD COLUMN "a" INT;', RULE)


@pytest.mark.parametrize(
    "sql",
    [
        'SET lock_timeout = \'5s\';\nALTER TABLE "User" ADD COLUMN "a" INT;',
        'SET LOCAL lock_timeout TO 5000;\nCREATE INDEX "i" ON "Post" ("x");',
        'CREATE TABLE "Scratch" (id int);\nALTER TABLE "Scratch" ADD COLUMN "a" INT;\nCREATE INDEX "i" ON "Scratch" ("a");',
        'CREATE INDEX CONCURRENTLY "i" ON "Post" ("x");',
        'ALTER TABLE "Post" VALIDATE CONSTRAINT "f";',
        "INSERT INTO \"Role\" VALUES ('admin') ON CONFLICT DO NOTHING;",
    ],
    ids=["set", "set-local", "new-table", "concurrently", "validate", "data-only"],
)
def test_protected_or_harmless_migrations_pass(sql):
    lint_ok(sql, RULE)


def test_a_lock_timeout_the_session_sets_before_the_file_protects_it():
    # deploy-gate sets the target policy's lock_timeout_ms on the session before each migration it applies.
    lint_ok('ALTER TABLE "User" ADD COLUMN "a" INT;', RULE, session_timeouts={"lock_timeout"})
    lint_one('ALTER TABLE "User" ADD COLUMN "a" INT;', RULE, session_timeouts={"statement_timeout"})


def test_a_file_that_turns_the_sessions_lock_timeout_off_is_reported():
    finding = lint_one('SET lock_timeout = 0;\nALTER TABLE "User" ADD COLUMN "a" INT;', RULE, session_timeouts={"lock_timeout"})
    assert finding.line == 2
