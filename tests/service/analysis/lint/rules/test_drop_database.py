from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-database"


def test_dropping_a_database_is_an_error():
    finding = lint_one('DROP DATABASE IF EXISTS "staging";', RULE)
    assert finding.severity == "error" and finding.message == 'DROP DATABASE "staging" deletes a whole database'


def test_other_statements_pass():
    lint_ok('DROP SCHEMA IF EXISTS "staging";', RULE)
