import pytest

from service.analysis.lint import RULES, Finding, LintConfigurationError, lint_migration, lint_migrations
from service.prisma.migrations import migrations_from_bundle

DROPS = 'SET lock_timeout = \'5s\';\nDROP TABLE "Patient";\nALTER TABLE "Visit" DROP COLUMN "notes";\n'


def rules_of(findings: list[Finding]) -> list[str]:
    return [finding.rule for finding in findings]


def test_findings_carry_rule_severity_position_help_and_migration():
    findings = lint_migration(DROPS, "20240101_drops")
    drop = next(finding for finding in findings if finding.rule == "drop-table")
    assert drop == Finding(
        rule="drop-table",
        severity="error",
        message='DROP TABLE "Patient" deletes the table and all of its rows',
        line=2,
        column=1,
        help=drop.help,
        migration="20240101_drops",
        family="danger",
    )
    assert drop.help.startswith("Release code")
    assert drop.to_dict() == {
        "rule": "drop-table",
        "severity": "error",
        "message": drop.message,
        "line": 2,
        "column": 1,
        "help": drop.help,
        "migration": "20240101_drops",
        "family": "danger",
    }


def test_findings_point_at_the_node_when_it_has_a_location():
    [finding] = [f for f in lint_migration('ALTER TABLE "User"\n  ADD COLUMN "age" INTEGER;\n') if f.rule == "prefer-bigint-over-int"]
    assert (finding.line, finding.column) == (2, 14)


def test_findings_are_sorted_by_line_then_column_then_rule():
    findings = lint_migration(DROPS)
    keys = [(finding.line, finding.column, finding.rule) for finding in findings]
    assert keys == sorted(keys)
    assert {"drop-table", "drop-column", "drop-without-if-exists"} <= set(rules_of(findings))


def test_severity_overrides_change_the_level_or_turn_a_rule_off():
    findings = lint_migration(DROPS, severities={"drop-table": "info", "drop-column": "off"})
    assert [f.severity for f in findings if f.rule == "drop-table"] == ["info"]
    assert "drop-column" not in rules_of(findings)


@pytest.mark.parametrize(
    "script, severity",
    [
        ('CREATE TABLE "A" (id int);\nCREATE INDEX "A_id_idx" ON "A" ("id");\n', "info"),
        ('CREATE TABLE "A" (id int);\nCOMMIT;\nCREATE INDEX "A_id_idx" ON "A" ("id");\n', "warning"),
        ('CREATE INDEX CONCURRENTLY "A_id_idx" ON "A" ("id");\n', "warning"),
    ],
    ids=["one-transaction", "commit-mid-file", "lone-concurrently"],
)
def test_idempotency_findings_are_info_only_where_the_file_is_one_transaction(script, severity):
    idempotency = {f.severity for f in lint_migration(script) if RULES[f.rule].family == "idempotency"}
    assert idempotency == {severity}
    overridden = lint_migration(script, severities={"create-index-without-if-not-exists": "warning"})
    assert {f.severity for f in overridden if f.rule == "create-index-without-if-not-exists"} <= {"warning"}


def test_bad_override_raises_before_linting():
    with pytest.raises(LintConfigurationError):
        lint_migration("SELECT 1;", severities={"drop-tables": "off"})
    with pytest.raises(LintConfigurationError):
        lint_migrations(migrations_from_bundle({}), severities={"drop-table": "loud"})


def test_a_file_that_does_not_parse_is_a_finding_with_its_position():
    findings = lint_migration('CREATE TABLE "A" (id int);\nALTER TABLE "A" ADD COLUMN;\n', "broken")
    assert [(f.rule, f.severity, f.line, f.column) for f in findings] == [("syntax-error", "error", 2, 27)]
    assert 'syntax error at or near ";"' in findings[0].message


def test_a_do_block_body_that_does_not_parse_is_a_finding_and_the_rest_is_still_linted():
    script = 'DROP TABLE "Old";\nDO $$\nBEGIN\n  CREATE TABL "x" (id int);\nEND\n$$;\n'
    findings = lint_migration(script)
    syntax = [f for f in findings if f.rule == "syntax-error"]
    assert len(syntax) == 1 and syntax[0].line == 4 and "in DO block" in syntax[0].message
    assert "PL/pgSQL" in syntax[0].help
    assert "drop-table" in rules_of(findings)


def test_a_script_that_does_not_even_lex_is_a_finding():
    [finding] = lint_migration("SELECT 'unterminated;\n")
    assert finding.rule == "syntax-error" and finding.line == 1


def test_migrations_are_linted_in_prisma_order():
    local = migrations_from_bundle({"20240102_b": 'DROP TABLE "B";', "20240101_a": 'TRUNCATE "A";'})
    findings = [f for f in lint_migrations(local) if f.severity == "error"]
    assert [(f.migration, f.rule) for f in findings] == [("20240101_a", "truncate"), ("20240102_b", "drop-table")]


def test_statements_inside_do_blocks_are_linted_at_their_own_line():
    script = 'DO $$\nBEGIN\n  DELETE FROM "Session";\nEND\n$$;\n'
    [finding] = [f for f in lint_migration(script) if f.rule == "delete-without-where"]
    assert finding.line == 3


@pytest.mark.parametrize("processes", [1, 2])
def test_timeouts_the_session_sets_reach_every_file_however_many_processes_lint(processes):
    local = migrations_from_bundle({f"20240101{number:04d}_add": 'ALTER TABLE "A" ADD COLUMN "x" INT;\n' for number in range(130)})

    def files_with(rule: str, **options: object) -> int:
        return len({f.migration for f in lint_migrations(local, processes=processes, **options) if f.rule == rule})

    assert files_with("missing-lock-timeout") == 130
    assert files_with("missing-lock-timeout", session_timeouts={"lock_timeout"}) == 0
    assert files_with("missing-statement-timeout", session_timeouts={"lock_timeout"}) == 130
