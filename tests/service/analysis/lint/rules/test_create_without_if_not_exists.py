import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "create-without-if-not-exists"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('CREATE SEQUENCE "order_no";', 'CREATE SEQUENCE "order_no" fails if it already exists'),
        ('CREATE SCHEMA "audit";', 'CREATE SCHEMA "audit" fails if it already exists'),
        ('CREATE EXTENSION "pgcrypto";', 'CREATE EXTENSION "pgcrypto" fails if it already exists'),
        ('CREATE MATERIALIZED VIEW "Totals" AS SELECT 1;', 'CREATE MATERIALIZED VIEW "Totals" fails if it already exists'),
    ],
)
def test_creates_without_if_not_exists_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE SEQUENCE IF NOT EXISTS "order_no";',
        'CREATE SCHEMA IF NOT EXISTS "audit";',
        'CREATE EXTENSION IF NOT EXISTS "pgcrypto";',
        'CREATE MATERIALIZED VIEW IF NOT EXISTS "Totals" AS SELECT 1;',
        'CREATE TABLE "Copy" AS SELECT 1;',
    ],
    ids=["sequence", "schema", "extension", "materialized-view", "table-as-is-another-rule"],
)
def test_guarded_creates_pass(sql):
    lint_ok(sql, RULE)
