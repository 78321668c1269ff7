import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "prefer-timestamptz"


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "User" ("createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);',
        'ALTER TABLE "User" ADD COLUMN "seenAt" TIMESTAMP WITHOUT TIME ZONE;',
    ],
)
def test_timestamp_without_time_zone_is_reported(sql):
    assert "timestamp without time zone" in lint_one(sql, RULE).message


@pytest.mark.parametrize("sql", ['CREATE TABLE "User" ("createdAt" TIMESTAMPTZ(3));', 'CREATE TABLE "User" ("at" TIMESTAMP WITH TIME ZONE);'])
def test_timestamptz_passes(sql):
    lint_ok(sql, RULE)
