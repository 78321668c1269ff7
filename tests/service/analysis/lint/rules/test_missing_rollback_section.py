import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "missing-rollback-section"


@pytest.mark.parametrize(
    "sql, line, reason",
    [
        ('SELECT 1;\nALTER TABLE "User" DROP COLUMN "legacy";', 2, "dropping column User.legacy loses its data"),
        ('ALTER TABLE "User" ALTER COLUMN "age" TYPE BIGINT;', 1, "changing the type of User.age"),
        ('SELECT 1;\n\nUPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;', 3, "UPDATE on User"),
    ],
)
def test_irreversible_migrations_without_a_section_are_reported_at_the_cause(sql, line, reason):
    finding = lint_one(sql, RULE)
    assert finding.message.startswith("no ROLLBACK SQL section, and deploy-gate cannot derive the inverse: ")
    assert reason in finding.message
    assert finding.line == line


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Visit" ("id" INT);\nCREATE INDEX "Visit_id_idx" ON "Visit" ("id");',
        'ALTER TABLE "User" DROP COLUMN "legacy";\n-- ROLLBACK SQL:\n-- ALTER TABLE "User" ADD COLUMN "legacy" TEXT;\n',
        'ALTER TABLE "User" DROP COLUMN "legacy";\n-- Rollback: restore the snapshot taken before the deploy\n',
        "SELECT 1;",
        "SELEC 1;",
    ],
    ids=["derivable", "section", "prose-section", "no-effects", "does-not-parse"],
)
def test_derivable_or_documented_migrations_pass(sql):
    lint_ok(sql, RULE)
