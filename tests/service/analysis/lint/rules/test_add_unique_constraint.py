import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-unique-constraint"


@pytest.mark.parametrize(
    "sql, message",
    [
        (
            'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE ("email");',
            'adding "User_email_key" to "User" builds its index under an ACCESS EXCLUSIVE lock',
        ),
        (
            'ALTER TABLE "User" ADD COLUMN "handle" TEXT UNIQUE;',
            'ADD COLUMN "handle" … UNIQUE builds an index on "User" under an ACCESS EXCLUSIVE lock',
        ),
    ],
)
def test_unique_constraints_built_under_lock_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE USING INDEX "User_email_key";',
        'CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User" ("email");',
        'CREATE TABLE "Scratch" (email text);\nALTER TABLE "Scratch" ADD CONSTRAINT "k" UNIQUE ("email");',
    ],
)
def test_prebuilt_indexes_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
