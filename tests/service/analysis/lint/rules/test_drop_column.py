import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-column"


def test_dropping_a_column_is_an_error():
    finding = lint_one('-- AlterTable\nALTER TABLE "User" DROP COLUMN "legacy";', RULE)
    assert finding.severity == "error"
    assert finding.message == 'DROP COLUMN "legacy" deletes every value of "User"."legacy"'


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (id int, tmp int);\nALTER TABLE "Scratch" DROP COLUMN "tmp";',
        'ALTER TABLE "User" ADD COLUMN "tmp" int;\nALTER TABLE "User" DROP COLUMN "tmp";',
        'ALTER TABLE "User" DROP CONSTRAINT "User_legacy_key";',
    ],
    ids=["new-table", "column-added-in-this-file", "constraint"],
)
def test_drops_that_lose_nothing_pass(sql):
    lint_ok(sql, RULE)


def test_a_column_added_to_another_table_does_not_excuse_it():
    lint_one('ALTER TABLE "Post" ADD COLUMN "tmp" int;\nALTER TABLE "User" DROP COLUMN "tmp";', RULE)
