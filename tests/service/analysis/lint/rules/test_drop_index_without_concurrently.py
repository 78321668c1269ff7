import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-index-without-concurrently"


def test_plain_drop_index_is_reported():
    finding = lint_one('DROP INDEX IF EXISTS "Post_authorId_idx";', RULE)
    assert finding.message == 'DROP INDEX "Post_authorId_idx" waits for, then blocks, every query on its table'


@pytest.mark.parametrize(
    "sql",
    [
        'DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";',
        'CREATE INDEX IF NOT EXISTS "tmp_idx" ON "Post" ("x");\nDROP INDEX "tmp_idx";',
        'DROP TABLE IF EXISTS "Post";',
    ],
)
def test_concurrent_drops_and_new_indexes_pass(sql):
    lint_ok(sql, RULE)
