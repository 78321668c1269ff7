import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-function"

BODY = "RETURNS int LANGUAGE sql AS 'SELECT 1'"


def test_dropping_an_existing_function_is_a_warning():
    finding = lint_one('DROP FUNCTION "order_total"(int);', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'DROP FUNCTION "order_total"(integer) breaks the running application\'s calls to it (42883)'


def test_procedures_and_cascade_are_reported():
    assert lint_one('DROP PROCEDURE "archive";', RULE).message.startswith('DROP PROCEDURE "archive" breaks')
    finding = lint_one('DROP FUNCTION IF EXISTS "touch"() CASCADE;\nCREATE FUNCTION "touch"() ' + BODY + ";", RULE)
    assert finding.message.endswith("and CASCADE drops the triggers, defaults and views that use it")


@pytest.mark.parametrize(
    "sql",
    [
        f'CREATE FUNCTION "f"() {BODY};\nDROP FUNCTION "f"();',
        f'DROP FUNCTION IF EXISTS "f"(int);\nCREATE FUNCTION "f"(integer) {BODY};',
        f'DROP FUNCTION "f";\nCREATE OR REPLACE FUNCTION "f"(text) {BODY};',
        'DROP TRIGGER "t" ON "T";',
    ],
    ids=["created-in-this-file", "same-arguments-again", "arguments-unspecified-then-created", "trigger"],
)
def test_functions_the_running_application_still_finds_pass(sql):
    lint_ok(sql, RULE)


def test_a_function_created_again_with_other_arguments_is_reported():
    lint_one(f'DROP FUNCTION "f"(int);\nCREATE FUNCTION "f"(text) {BODY};', RULE)
