import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "update-without-where"


def test_update_without_where_is_a_warning():
    finding = lint_one('UPDATE "User" SET "tier" = \'basic\';', RULE)
    assert finding.severity == "warning" and finding.message == 'UPDATE without WHERE rewrites every row of "User"'


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;',
        'CREATE TABLE "Scratch" (tier text);\nUPDATE "Scratch" SET "tier" = \'basic\';',
    ],
)
def test_targeted_updates_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
