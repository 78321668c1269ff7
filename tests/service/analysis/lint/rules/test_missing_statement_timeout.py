import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "missing-statement-timeout"


def test_blocking_statement_without_statement_timeout_is_info():
    finding = lint_one('SET lock_timeout = \'5s\';\nALTER TABLE "User" ALTER COLUMN "age" TYPE BIGINT;', RULE)
    assert finding.severity == "info" and finding.line == 2
    assert "no statement_timeout" in finding.message


@pytest.mark.parametrize(
    "sql",
    [
        'SET statement_timeout = \'60s\';\nALTER TABLE "User" ALTER COLUMN "age" TYPE BIGINT;',
        'CREATE TABLE "Scratch" (id int);\nCREATE INDEX "i" ON "Scratch" ("id");',
    ],
)
def test_budgeted_or_harmless_migrations_pass(sql):
    lint_ok(sql, RULE)


def test_a_statement_timeout_the_session_sets_before_the_file_protects_it():
    sql = 'SET lock_timeout = \'5s\';\nALTER TABLE "User" ALTER COLUMN "age" TYPE BIGINT;'
    lint_ok(sql, RULE, session_timeouts={"statement_timeout"})
    lint_one(sql, RULE, session_timeouts={"lock_timeout"})
