import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-column"


def test_renaming_a_column_is_a_warning():
    finding = lint_one('ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'renaming "User"."name" to "fullName" breaks queries of the running application'


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (a int);\nALTER TABLE "Scratch" RENAME COLUMN "a" TO "b";',
        'ALTER TABLE "User" ADD COLUMN "tmp" int;\nALTER TABLE "User" RENAME COLUMN "tmp" TO "final";',
        'ALTER TABLE "User" RENAME TO "Member";',
        'ALTER VIEW "Active" RENAME COLUMN "a" TO "b";',
    ],
    ids=["new-table", "new-column", "table-rename", "view-column"],
)
def test_new_columns_and_other_renames_pass(sql):
    lint_ok(sql, RULE)
