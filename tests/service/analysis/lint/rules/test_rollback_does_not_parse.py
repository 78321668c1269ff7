from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rollback-does-not-parse"


def test_a_section_that_does_not_parse_is_an_error_at_its_position():
    finding = lint_one('CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP TABEL "C";\n', RULE)
    assert (finding.severity, finding.line, finding.column) == ("error", 3, 9)
    assert finding.message == 'the rollback section does not parse: syntax error at or near "TABEL"'


def test_a_section_that_parses_passes():
    lint_ok('CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP TABLE IF EXISTS "C";\n', RULE)
    lint_ok('CREATE TABLE "C" (id int);\n', RULE)


def test_a_prose_comment_in_the_section_is_not_read_as_sql():
    script = 'CREATE UNIQUE INDEX "a_key" ON "A" ("x");\n-- Rollback: DROP the new unique indexes …\n'
    lint_ok(script, RULE)
    lint_ok(
        'CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- Note: DROP it last.\n-- DROP the table and its rows once nobody reads it\n-- DROP TABLE "C";\n', RULE
    )


def test_broken_sql_among_prose_is_still_reported():
    script = 'CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP the table once nobody reads it\n-- DROP TABEL "C"\n'
    finding = lint_one(script, RULE)
    assert (finding.line, finding.column) == (4, 9)
