import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "index-without-concurrently"


def test_prisma_index_on_an_existing_table_is_reported():
    finding = lint_one('-- CreateIndex\nCREATE INDEX "Post_authorId_idx" ON "Post"("authorId");', RULE)
    assert finding.message == 'building index "Post_authorId_idx" blocks writes to "Post" until it is done'


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_authorId_idx" ON "Post"("authorId");',
        'CREATE TABLE "Post" ("authorId" int);\nCREATE INDEX "Post_authorId_idx" ON "Post"("authorId");',
        'CREATE TABLE "public"."Post" ("authorId" int);\nCREATE INDEX "i" ON "Post"("authorId");',
        'CREATE MATERIALIZED VIEW "Totals" AS SELECT 1 AS n WITH NO DATA;\nCREATE UNIQUE INDEX "i" ON "Totals" (n);',
    ],
    ids=["concurrently", "new-table", "new-table-qualified", "new-materialized-view"],
)
def test_concurrent_builds_and_new_tables_pass(sql):
    lint_ok(sql, RULE)


def test_a_table_of_the_same_name_in_another_schema_is_not_new():
    lint_one('CREATE TABLE "audit"."Post" ("authorId" int);\nCREATE INDEX "i" ON "public"."Post"("authorId");', RULE)
