import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "non-transactional-statement"


@pytest.mark.parametrize(
    "sql, reason",
    [
        ('SELECT 1;\nVACUUM "Post";', "VACUUM cannot run inside a transaction block"),
        ('SELECT 1;\nCREATE DATABASE "x";', "CREATE DATABASE cannot run inside a transaction block"),
        ("SELECT 1;\nALTER SYSTEM SET work_mem = '64MB';", "ALTER SYSTEM cannot run inside a transaction block"),
    ],
)
def test_refused_statements_in_a_multi_statement_file_are_errors(sql, reason):
    finding = lint_one(sql, RULE)
    assert finding.severity == "error" and finding.line == 2
    assert finding.message == f"{reason}; in a file with other statements it fails with 25001"


def test_inside_a_do_block_it_always_fails():
    assert "inside a DO block" in lint_one("DO $$ BEGIN\n  EXECUTE 'VACUUM \"Post\"';\nEND $$;", RULE).message


@pytest.mark.parametrize(
    "sql",
    [
        'VACUUM "Post";',
        'SELECT 1;\nANALYZE "Post";',
        'SET lock_timeout = \'5s\';\nCREATE INDEX CONCURRENTLY "i" ON "Post" ("x");',
    ],
    ids=["alone", "analyze", "concurrently-is-another-rule"],
)
def test_lone_statements_analyze_and_concurrently_pass(sql):
    lint_ok(sql, RULE)
