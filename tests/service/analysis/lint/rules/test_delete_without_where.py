import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "delete-without-where"


def test_delete_without_where_is_an_error():
    finding = lint_one('DELETE FROM "Session";', RULE)
    assert finding.severity == "error" and finding.message == 'DELETE without WHERE deletes every row of "Session"'


@pytest.mark.parametrize(
    "sql",
    [
        'DELETE FROM "Session" WHERE "expiresAt" < now();',
        'CREATE TABLE "Scratch" (id int);\nDELETE FROM "Scratch";',
    ],
)
def test_targeted_deletes_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
