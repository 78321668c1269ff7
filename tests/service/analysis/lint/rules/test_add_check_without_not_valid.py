import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-check-without-not-valid"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('ALTER TABLE "User" ADD CONSTRAINT "age_positive" CHECK ("age" > 0);', 'adding "age_positive" to "User" scans every row'),
        ('ALTER TABLE "User" ADD CHECK ("age" > 0);', 'adding a CHECK constraint to "User" scans every row'),
    ],
)
def test_validated_check_on_an_existing_table_is_reported(sql, message):
    assert lint_one(sql, RULE).message.startswith(message)


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD CONSTRAINT "age_positive" CHECK ("age" > 0) NOT VALID;',
        'CREATE TABLE "Scratch" (age int);\nALTER TABLE "Scratch" ADD CONSTRAINT "c" CHECK ("age" > 0);',
        'ALTER TABLE "User" ADD CONSTRAINT "u" UNIQUE ("email");',
    ],
)
def test_not_valid_new_tables_and_other_constraints_pass(sql):
    lint_ok(sql, RULE)
