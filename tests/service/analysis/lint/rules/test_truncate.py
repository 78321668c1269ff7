import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "truncate"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('TRUNCATE "Session";', 'TRUNCATE deletes every row of "Session"'),
        ('TRUNCATE TABLE "A", "B" CASCADE;', 'TRUNCATE deletes every row of "A", "B", and every table referencing it'),
    ],
)
def test_truncating_existing_tables_is_an_error(sql, message):
    finding = lint_one(sql, RULE)
    assert finding.severity == "error" and finding.message == message


def test_only_existing_tables_are_named():
    finding = lint_one('CREATE TABLE "Scratch" (id int);\nTRUNCATE "Scratch", "Session";', RULE)
    assert finding.message == 'TRUNCATE deletes every row of "Session"'


@pytest.mark.parametrize("sql", ['CREATE TABLE "Scratch" (id int);\nTRUNCATE "Scratch";', 'DELETE FROM "Session" WHERE "expired";'])
def test_new_tables_and_targeted_deletes_pass(sql):
    lint_ok(sql, RULE)
