import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "set-not-null"


def test_set_not_null_on_an_existing_table_is_reported():
    finding = lint_one('ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;', RULE)
    assert finding.message == 'SET NOT NULL on "User"."email" scans the table under an ACCESS EXCLUSIVE lock'


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" VALIDATE CONSTRAINT "User_email_not_null";\nALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("email" IS NOT NULL);\nALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;',
        'CREATE TABLE "Scratch" (email text);\nALTER TABLE "Scratch" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "User" ALTER COLUMN "email" DROP NOT NULL;',
    ],
    ids=["validated-check", "validated-check-added", "new-table", "drop-not-null"],
)
def test_proven_or_harmless_changes_pass(sql):
    lint_ok(sql, RULE)


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("email" IS NOT NULL) NOT VALID;\nALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("name" IS NOT NULL);\nALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "Post" VALIDATE CONSTRAINT "c";\nALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;\nALTER TABLE "User" VALIDATE CONSTRAINT "c";',
    ],
    ids=["check-not-validated", "check-of-another-column", "validation-on-another-table", "validation-after"],
)
def test_constraints_that_prove_nothing_do_not_excuse_it(sql):
    lint_one(sql, RULE)
