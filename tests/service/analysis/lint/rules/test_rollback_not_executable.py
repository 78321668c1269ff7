from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rollback-not-executable"


def test_a_prose_only_hint_is_reported_at_its_banner():
    finding = lint_one('CREATE INDEX "a_idx" ON "A" ("x");\n\n-- Rollback: drop the new indexes\n', RULE)
    assert finding.line == 3
    assert finding.message == "the rollback section is prose, not SQL: 'drop the new indexes'"


def test_a_section_with_sql_passes_even_with_notes():
    lint_ok('CREATE INDEX "a_idx" ON "A" ("x");\n-- ROLLBACK SQL:\n-- Note: quick.\n-- DROP INDEX IF EXISTS "a_idx";\n', RULE)
    lint_ok('CREATE INDEX "a_idx" ON "A" ("x");\n', RULE)


def test_a_sentence_that_starts_with_an_upper_case_keyword_is_prose():
    finding = lint_one('CREATE UNIQUE INDEX "a_key" ON "A" ("x");\n-- Rollback: DROP the new unique indexes …\n', RULE)
    assert finding.message == "the rollback section is prose, not SQL: 'DROP the new unique indexes …'"
