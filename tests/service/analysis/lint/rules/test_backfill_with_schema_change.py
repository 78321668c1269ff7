import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "backfill-with-schema-change"


def test_backfill_after_alter_keeps_the_lock_held():
    finding = lint_one(
        'ALTER TABLE "User" ADD COLUMN "tier" TEXT;\nUPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;',
        RULE,
    )
    assert finding.line == 2
    assert finding.message == (
        'UPDATE on "User" runs while "User" is still locked in ACCESS EXCLUSIVE mode (taken at line 1, held until the migration commits)'
    )


def test_a_data_change_to_another_table_also_runs_under_the_lock():
    assert (
        'DELETE on "Session" runs while "User" is still locked'
        in lint_one('CREATE INDEX "i" ON "User" ("x");\nDELETE FROM "Session" WHERE "expired";', RULE).message
    )


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;\nALTER TABLE "User" ALTER COLUMN "tier" SET DEFAULT \'basic\';',
        'CREATE TABLE "Role" (name text);\nINSERT INTO "Role" VALUES (\'admin\');',
        'ALTER TABLE "User" VALIDATE CONSTRAINT "c";\nUPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;',
    ],
    ids=["data-first", "seed-a-new-table", "light-lock"],
)
def test_data_changes_without_a_held_lock_pass(sql):
    lint_ok(sql, RULE)
