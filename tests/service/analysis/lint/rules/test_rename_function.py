import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-function"


def test_renaming_an_existing_function_is_a_warning():
    finding = lint_one('ALTER FUNCTION "order_total"(int) RENAME TO "order_total_cents";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'renaming function "order_total" to "order_total_cents" breaks the running application\'s calls to it (42883)'


def test_procedures_are_reported():
    assert lint_one('ALTER PROCEDURE "archive" RENAME TO "archive_orders";', RULE).message.startswith('renaming procedure "archive"')


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE FUNCTION "f"() RETURNS int LANGUAGE sql AS \'SELECT 1\';\nALTER FUNCTION "f"() RENAME TO "g";',
        'ALTER FUNCTION "f"() RENAME TO "f_old";\nCREATE FUNCTION "f"() RETURNS int LANGUAGE sql AS \'SELECT 2\';',
        'ALTER TABLE "f" RENAME TO "g";',
    ],
    ids=["created-in-this-file", "name-taken-again", "table"],
)
def test_renames_the_running_application_does_not_see_pass(sql):
    lint_ok(sql, RULE)
