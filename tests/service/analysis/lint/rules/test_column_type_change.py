import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "column-type-change"


def test_prisma_type_change_is_reported():
    finding = lint_one('-- AlterTable\nALTER TABLE "User" ALTER COLUMN "age" SET DATA TYPE BIGINT;', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'changing "User"."age" to bigint rewrites the table under an ACCESS EXCLUSIVE lock'


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (age int);\nALTER TABLE "Scratch" ALTER COLUMN "age" TYPE bigint;',
        'ALTER TABLE "User" ALTER COLUMN "age" SET DEFAULT 0;',
    ],
)
def test_new_tables_and_other_column_changes_pass(sql):
    lint_ok(sql, RULE)
