from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rollback-does-not-parse"


def test_a_section_that_does_not_parse_is_an_error_at_its_position():
    finding = lint_one('CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP TABEL "C";\n', RULE)
    assert (finding.severity, finding.line, finding.column) == ("error", 3, 9)
    assert finding.message == 'the rollback section does not parse: syntax error at or near "TABEL"'


def test_a_section_that_parses_passes():
    lint_ok('CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP TABLE IF EXISTS "C";\n', RULE)
    lint_ok('CREATE TABLE "C" (id int);\n', RULE)
