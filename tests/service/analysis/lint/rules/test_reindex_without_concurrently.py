import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "reindex-without-concurrently"


@pytest.mark.parametrize(
    "sql, target",
    [('REINDEX TABLE "Post";', 'TABLE "Post"'), ('REINDEX INDEX "Post_authorId_idx";', 'INDEX "Post_authorId_idx"')],
)
def test_plain_reindex_is_reported(sql, target):
    assert lint_one(sql, RULE).message.startswith(f"REINDEX {target} blocks writes")


def test_concurrent_reindex_passes():
    lint_ok('REINDEX INDEX CONCURRENTLY "Post_authorId_idx";', RULE)
