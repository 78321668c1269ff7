from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-schema"


def test_dropping_a_schema_is_an_error_and_cascade_is_named():
    finding = lint_one('DROP SCHEMA "audit" CASCADE;', RULE)
    assert finding.severity == "error"
    assert finding.message == 'DROP SCHEMA "audit" deletes the schema and everything in it'


def test_a_schema_created_in_this_file_and_other_drops_pass():
    lint_ok('CREATE SCHEMA IF NOT EXISTS "tmp";\nDROP SCHEMA "tmp";', RULE)
    lint_ok('DROP TABLE IF EXISTS "audit"."Log";', RULE)
