import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "prefer-text-over-varchar"


def test_varchar_with_a_length_is_reported():
    assert lint_one('CREATE TABLE "User" ("name" VARCHAR(255));', RULE).message.startswith('column "name" is varchar with a length')


@pytest.mark.parametrize("sql", ['CREATE TABLE "User" ("name" TEXT);', 'CREATE TABLE "User" ("name" VARCHAR);'])
def test_text_and_unbounded_varchar_pass(sql):
    lint_ok(sql, RULE)
