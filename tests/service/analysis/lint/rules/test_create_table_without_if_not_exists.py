import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "create-table-without-if-not-exists"


def test_prisma_create_table_is_reported_as_info_in_a_file_that_is_one_transaction():
    # A failed file leaves no table behind, so its retry does not meet one.
    finding = lint_one('-- CreateTable\nCREATE TABLE "User" (\n    "id" SERIAL NOT NULL\n);\n', RULE)
    assert (finding.line, finding.severity) == (2, "info")
    assert finding.message == 'CREATE TABLE "User" fails if the table already exists'


def test_a_create_table_a_failure_can_leave_behind_is_a_warning():
    # COMMIT keeps the table when a later statement fails; the retry then meets it.
    finding = lint_one('CREATE TABLE "User" ("id" INT);\nCOMMIT;\nCREATE INDEX "User_id_idx" ON "User" ("id");\n', RULE)
    assert finding.severity == "warning"


def test_create_table_as_is_reported():
    lint_errors('CREATE TABLE "Copy" AS SELECT * FROM "User";', RULE)


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE IF NOT EXISTS "User" (id int);',
        'CREATE TABLE IF NOT EXISTS "Copy" AS SELECT 1;',
        'DROP TABLE IF EXISTS "Scratch";\nCREATE TABLE "Scratch" (id int);',
        'DO $$ BEGIN\n  IF to_regclass(\'"User"\') IS NULL THEN\n    CREATE TABLE "User" (id int);\n  END IF;\nEND $$;',
        'CREATE MATERIALIZED VIEW "Totals" AS SELECT 1;',
    ],
    ids=["if-not-exists", "as-if-not-exists", "dropped-first", "catalog-guard", "materialized-view-is-another-rule"],
)
def test_guarded_creates_pass(sql):
    lint_ok(sql, RULE)
