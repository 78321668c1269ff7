import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "lock-table"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('LOCK TABLE "Post";', 'LOCK TABLE "Post" IN ACCESS EXCLUSIVE MODE blocks reads and writes until the migration commits'),
        ('LOCK TABLE "Post" IN SHARE MODE;', 'LOCK TABLE "Post" IN SHARE MODE blocks writes until the migration commits'),
    ],
)
def test_blocking_locks_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        'LOCK TABLE "Post" IN ROW EXCLUSIVE MODE;',
        'LOCK TABLE "Post" IN SHARE UPDATE EXCLUSIVE MODE;',
        'CREATE TABLE "Scratch" (id int);\nLOCK TABLE "Scratch";',
    ],
)
def test_light_locks_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
