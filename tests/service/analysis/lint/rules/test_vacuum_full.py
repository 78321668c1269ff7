import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "vacuum-full"


@pytest.mark.parametrize(
    "sql, target",
    [('VACUUM FULL "Post";', '"Post"'), ("VACUUM (FULL, ANALYZE);", "every table of the database")],
)
def test_vacuum_full_is_reported(sql, target):
    assert lint_one(sql, RULE).message == f"VACUUM FULL rewrites {target} under an ACCESS EXCLUSIVE lock"


@pytest.mark.parametrize("sql", ['VACUUM "Post";', 'ANALYZE "Post";'])
def test_plain_vacuum_and_analyze_pass(sql):
    lint_ok(sql, RULE)
