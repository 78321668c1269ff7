from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "unused-suppression"


def test_a_suppression_that_silences_nothing_is_reported():
    finding = lint_one('-- deploy-gate-ignore drop-table\nDROP INDEX CONCURRENTLY IF EXISTS "i";\n', RULE)
    assert (finding.severity, finding.line) == ("warning", 1)
    assert finding.message == "deploy-gate-ignore drop-table suppresses nothing"


def test_an_unknown_rule_is_reported():
    assert lint_one("SELECT 1; -- deploy-gate-ignore-file drop-tables\n", RULE).message == ("deploy-gate-ignore-file names unknown rule 'drop-tables'")


def test_a_suppression_that_silences_a_finding_passes():
    lint_ok('-- deploy-gate-ignore drop-index-without-concurrently\nDROP INDEX IF EXISTS "i";\n', RULE)
