import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "ban-char-field"


@pytest.mark.parametrize("sql", ['CREATE TABLE "Country" ("code" CHAR(2));', 'CREATE TABLE "Country" ("code" CHARACTER(2));'])
def test_char_columns_are_reported(sql):
    assert lint_one(sql, RULE).message == 'column "code" is char(n), which pads values with spaces'


@pytest.mark.parametrize("sql", ['CREATE TABLE "Country" ("code" TEXT);', 'CREATE TABLE "Country" ("code" VARCHAR(2));'])
def test_text_and_varchar_pass(sql):
    lint_ok(sql, RULE)
