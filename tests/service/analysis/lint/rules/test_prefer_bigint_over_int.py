import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok

RULE = "prefer-bigint-over-int"


def test_integer_columns_are_reported_at_each_column():
    findings = lint_errors('CREATE TABLE "Post" (\n    "id" SERIAL NOT NULL,\n    "views" INTEGER,\n    "rank" SMALLINT\n);', RULE)
    assert [(f.line, f.severity, f.message) for f in findings] == [
        (2, "info", 'column "id" is serial, which can run out of values; bigint cannot'),
        (3, "info", 'column "views" is integer, which can run out of values; bigint cannot'),
        (4, "info", 'column "rank" is smallint, which can run out of values; bigint cannot'),
    ]


@pytest.mark.parametrize(
    "sql",
    ['ALTER TABLE "Post" ADD COLUMN "views" INT4;', 'ALTER TABLE "Post" ALTER COLUMN "views" TYPE integer;'],
)
def test_added_and_retyped_columns_are_checked_too(sql):
    lint_errors(sql, RULE)


def test_bigint_columns_pass():
    lint_ok('CREATE TABLE "Post" ("id" BIGSERIAL, "views" BIGINT, "n" BIGINT GENERATED ALWAYS AS IDENTITY);', RULE)
