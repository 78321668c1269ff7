import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "concurrently-in-transaction"

CONCURRENT_INDEX = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_authorId_idx" ON "Post" ("authorId");'


@pytest.mark.parametrize(
    "sql, keyword",
    [
        ("SET lock_timeout = '5s';\n" + CONCURRENT_INDEX, "CREATE INDEX CONCURRENTLY"),
        ('DROP INDEX CONCURRENTLY "a";\nDROP INDEX CONCURRENTLY "b";', "DROP INDEX CONCURRENTLY"),
        ('SELECT 1;\nREINDEX INDEX CONCURRENTLY "a";', "REINDEX CONCURRENTLY"),
        ('SELECT 1;\nALTER TABLE "Log" DETACH PARTITION "Log_2020" CONCURRENTLY;', "DETACH PARTITION CONCURRENTLY"),
    ],
)
def test_concurrently_with_other_statements_is_an_error(sql, keyword):
    finding = lint_errors(sql, RULE)[0]
    assert finding.severity == "error"
    assert finding.message.startswith(f"{keyword} fails with 25001: with 1 other statement in the file")


def test_concurrently_inside_a_do_block_always_fails():
    finding = lint_one(f"DO $$ BEGIN\n  {CONCURRENT_INDEX}\nEND $$;", RULE)
    assert "inside a DO block" in finding.message and finding.line == 2


@pytest.mark.parametrize(
    "sql",
    [
        "-- CreateIndex\n" + CONCURRENT_INDEX + '\n-- ROLLBACK SQL:\n-- DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";\n',
        'CREATE INDEX "a" ON "Post" ("x");\nCREATE INDEX "b" ON "Post" ("y");',
        'REFRESH MATERIALIZED VIEW CONCURRENTLY "Totals";\nSELECT 1;',
    ],
    ids=["alone-with-comments", "not-concurrent", "refresh-runs-in-a-transaction"],
)
def test_a_lone_concurrent_statement_passes(sql):
    lint_ok(sql, RULE)
