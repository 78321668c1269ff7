from service.analysis.lint import lint_migration
from service.analysis.lint.suppressions import find_suppressions
from service.analysis.parsing import Position, parse_migration

DROP = 'DROP TABLE "Old";'


def rules_of(script: str, **severities) -> list[str]:
    return [finding.rule for finding in lint_migration(script, severities=severities or None)]


def test_a_trailing_comment_suppresses_its_statement_only():
    script = f'{DROP} -- deploy-gate-ignore drop-table\nDROP TABLE "Other";\n'
    findings = [f for f in lint_migration(script) if f.rule == "drop-table"]
    assert [f.line for f in findings] == [2]


def test_a_comment_directly_above_suppresses_the_next_statement():
    script = f"-- deploy-gate-ignore drop-table -- archived in 20240101_copy\n-- reviewed by ops\n{DROP}\n"
    assert "drop-table" not in rules_of(script)
    assert "unused-suppression" not in rules_of(script)


def test_a_blank_line_detaches_a_comment_from_the_statement_below():
    script = f"-- deploy-gate-ignore drop-table\n\n{DROP}\n"
    findings = lint_migration(script)
    assert "drop-table" in [f.rule for f in findings]
    [unused] = [f for f in findings if f.rule == "unused-suppression"]
    assert unused.line == 1 and "neither on a statement's line nor directly above one" in unused.message


def test_a_trailing_comment_covers_a_statement_spanning_several_lines():
    script = 'ALTER TABLE "Visit"\n  DROP COLUMN "notes"; -- deploy-gate-ignore drop-column\n'
    assert "drop-column" not in rules_of(script)


def test_one_directive_names_several_rules():
    script = f"{DROP} -- deploy-gate-ignore drop-table, drop-without-if-exists, missing-lock-timeout\n"
    assert not {"drop-table", "drop-without-if-exists", "missing-lock-timeout"} & set(rules_of(script))


def test_a_file_directive_suppresses_everywhere():
    script = f'-- deploy-gate-ignore-file drop-table\nSELECT 1;\n{DROP}\nDROP TABLE "Other";\n'
    assert "drop-table" not in rules_of(script) and "unused-suppression" not in rules_of(script)


def test_a_directive_above_a_do_block_covers_what_is_inside():
    script = '-- deploy-gate-ignore delete-without-where\nDO $$\nBEGIN\n  DELETE FROM "Session";\nEND\n$$;\n'
    assert "delete-without-where" not in rules_of(script)


def test_text_inside_strings_and_do_bodies_is_not_a_directive():
    script = "DO $$\nBEGIN\n  -- deploy-gate-ignore drop-table\n  DROP TABLE \"Old\";\nEND\n$$;\nSELECT '-- deploy-gate-ignore truncate';\n"
    assert find_suppressions(parse_migration(script)).directives == ()
    assert "drop-table" in rules_of(script)


def test_directives_record_their_rules_position_and_statements():
    parsed = parse_migration(f"SELECT 1;\n-- deploy-gate-ignore drop-table,truncate\n{DROP}\n-- deploy-gate-ignore-file prefer-identity\n")
    first, whole_file = find_suppressions(parsed).directives
    assert first.rule_ids == ("drop-table", "truncate") and first.statements == (1,) and not first.whole_file
    assert first.position == Position(2, 1)
    assert whole_file.whole_file and whole_file.statements == () and whole_file.rule_ids == ("prefer-identity",)


def test_a_trailing_comment_after_two_statements_covers_both():
    parsed = parse_migration('SELECT 1; DROP TABLE "Old"; -- deploy-gate-ignore drop-table\n')
    [directive] = find_suppressions(parsed).directives
    assert directive.statements == (0, 1)


def test_unused_unknown_and_empty_directives_are_reported():
    script = f"{DROP} -- deploy-gate-ignore drop-table, truncate\n-- deploy-gate-ignore drop-tabel\nSELECT 1;\n-- deploy-gate-ignore\nSELECT 2;\n"
    messages = [(f.line, f.message) for f in lint_migration(script) if f.rule == "unused-suppression"]
    assert messages == [
        (1, "deploy-gate-ignore truncate suppresses nothing"),
        (2, "deploy-gate-ignore names unknown rule 'drop-tabel'"),
        (4, "deploy-gate-ignore names no rule"),
    ]


def test_a_suppression_of_a_rule_turned_off_is_not_reported_as_unused():
    script = f"{DROP} -- deploy-gate-ignore drop-table\n"
    assert "unused-suppression" not in rules_of(script, **{"drop-table": "off"})


def test_unused_suppression_can_itself_be_suppressed_for_the_file():
    script = f"-- deploy-gate-ignore-file unused-suppression\n-- deploy-gate-ignore truncate\n{DROP}\n"
    assert "unused-suppression" not in rules_of(script)


def test_suppressions_in_a_file_that_does_not_parse_are_not_reported():
    assert rules_of("-- deploy-gate-ignore drop-table\nDROP TABEL x;\n") == ["syntax-error"]


def test_a_comment_inside_a_long_statement_covers_it():
    script = 'CREATE TABLE IF NOT EXISTS "A" (\n  -- deploy-gate-ignore prefer-bigint-over-int\n  "id" INT\n);\n'
    assert "prefer-bigint-over-int" not in rules_of(script) and "unused-suppression" not in rules_of(script)
