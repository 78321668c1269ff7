import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-not-null-without-default"


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD COLUMN "tier" TEXT NOT NULL;',
        'ALTER TABLE "User" ADD COLUMN "code" TEXT PRIMARY KEY;',
    ],
    ids=["not-null", "primary-key"],
)
def test_required_column_without_default_is_an_error(sql):
    finding = lint_one(sql, RULE)
    assert finding.severity == "error"
    assert 'without a DEFAULT fails (23502) if "User" has rows' in finding.message


def test_prisma_required_field_is_reported_at_the_column():
    finding = lint_one('-- AlterTable\nALTER TABLE "User" ADD COLUMN     "tier" TEXT NOT NULL,\nADD COLUMN "nick" TEXT;', RULE)
    assert (finding.line, finding.column) == (2, 35)


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD COLUMN "tier" TEXT NOT NULL DEFAULT \'basic\';',
        'ALTER TABLE "User" ADD COLUMN "tier" TEXT;',
        'ALTER TABLE "User" ADD COLUMN "n" SERIAL NOT NULL;',
        'ALTER TABLE "User" ADD COLUMN "n" BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL;',
        'ALTER TABLE "User" ADD COLUMN "n" INT GENERATED ALWAYS AS ("id" * 2) STORED NOT NULL;',
        'CREATE TABLE "Scratch" (id int);\nALTER TABLE "Scratch" ADD COLUMN "tier" TEXT NOT NULL;',
        'TRUNCATE "Cache";\nALTER TABLE "Cache" ADD COLUMN "tier" TEXT NOT NULL;',
    ],
    ids=["default", "nullable", "serial", "identity", "generated", "new-table", "truncated-first"],
)
def test_columns_that_fill_themselves_pass(sql):
    lint_ok(sql, RULE)
