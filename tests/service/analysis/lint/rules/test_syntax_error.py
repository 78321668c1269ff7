from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "syntax-error"


def test_a_typo_is_reported_where_postgresql_stops():
    finding = lint_one('CREATE TABLE "A" (id int);\nALTER TABEL "A" ADD COLUMN "b" int;\n', RULE)
    assert (finding.line, finding.column, finding.severity) == (2, 7, "error")
    assert finding.message == 'syntax error at or near "TABEL"'


def test_a_do_block_body_is_parsed_too():
    finding = lint_one('DO $$\nBEGIN\n  CREATE TABL "x" (id int);\nEND\n$$;\n', RULE)
    assert finding.message == 'in DO block: syntax error at or near "TABL"'
    assert finding.line == 3


def test_valid_sql_and_valid_do_blocks_pass():
    lint_ok('CREATE TABLE "A" (id int);\nDO $$ BEGIN PERFORM 1; END $$;\n', RULE)
