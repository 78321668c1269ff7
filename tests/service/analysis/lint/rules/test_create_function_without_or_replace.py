import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "create-function-without-or-replace"

FUNCTION_BODY = "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"


@pytest.mark.parametrize(
    "sql, message",
    [
        (f'CREATE FUNCTION "touch"() {FUNCTION_BODY};', 'CREATE FUNCTION "touch" fails if it already exists'),
        ('CREATE PROCEDURE "p"() LANGUAGE sql AS $$ SELECT 1 $$;', 'CREATE PROCEDURE "p" fails if it already exists'),
        ('CREATE VIEW "Active" AS SELECT 1;', 'CREATE VIEW "Active" fails if it already exists'),
        (
            'CREATE TRIGGER "t" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();',
            'CREATE TRIGGER "t" on "User" fails if it already exists',
        ),
    ],
)
def test_creates_without_or_replace_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        f'CREATE OR REPLACE FUNCTION "touch"() {FUNCTION_BODY};',
        'CREATE OR REPLACE VIEW "Active" AS SELECT 1;',
        'CREATE OR REPLACE TRIGGER "t" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();',
        'DROP TRIGGER IF EXISTS "t" ON "User";\nCREATE TRIGGER "t" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();',
        'DROP VIEW IF EXISTS "Active";\nCREATE VIEW "Active" AS SELECT 1;',
    ],
)
def test_replaceable_creates_pass(sql):
    lint_ok(sql, RULE)


def test_dropping_the_trigger_of_another_table_is_no_guard():
    lint_one(
        'DROP TRIGGER IF EXISTS "t" ON "Post";\nCREATE TRIGGER "t" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();',
        RULE,
    )
