import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-table"


def test_renaming_a_table_is_a_warning():
    finding = lint_one('ALTER TABLE "User" RENAME TO "Member";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'renaming "User" to "Member" breaks queries of the running application'


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (id int);\nALTER TABLE "Scratch" RENAME TO "Final";',
        'ALTER TABLE "User" RENAME COLUMN "a" TO "b";',
        'ALTER INDEX "a" RENAME TO "b";',
    ],
)
def test_new_tables_and_other_renames_pass(sql):
    lint_ok(sql, RULE)
