import pytest

from service.analysis.lint import lint_migration
from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "identifier-too-long"

LONG = "Appointment_patientId_scheduledAt_clinicId_providerId_status_createdAt_idx"  # 74 bytes
STORED = LONG.encode()[:63].decode()


def test_a_name_over_63_bytes_is_a_warning_at_the_name():
    finding = lint_one(f'-- CreateIndex\nCREATE INDEX "{LONG}"\n  ON "Appointment" ("patientId");', RULE)
    assert (finding.severity, finding.line, finding.column) == ("warning", 2, 14)
    assert finding.message == f'"{LONG}" is 74 bytes; PostgreSQL names it "{STORED}"'


def test_an_unquoted_name_is_folded_to_lower_case_as_postgresql_stores_it():
    finding = lint_one(f"CREATE TABLE t (a int);  ALTER TABLE t ADD CONSTRAINT {LONG} CHECK (a > 0);", RULE)
    assert finding.message == f'"{LONG.lower()}" is 74 bytes; PostgreSQL names it "{STORED.lower()}"'
    assert finding.column == 55


def test_bytes_count_not_characters():
    name = "é" * 32  # 64 bytes, 32 characters
    finding = lint_one(f'CREATE TABLE "{name}" (a int);', RULE)
    assert finding.message == f'"{name}" is 64 bytes; PostgreSQL names it "{"é" * 31}"'
    lint_ok(f'CREATE TABLE "{"é" * 31}x" (a int);', RULE)


def test_each_long_name_is_reported_once_per_statement():
    other = "x" * 64
    found = lint_errors(f'CREATE INDEX "{LONG}" ON "{other}" (a);\nDROP INDEX "{LONG}";\nCOMMENT ON TABLE "{other}" IS \'{other}\';', RULE)
    assert [(f.line, f.message.split()[0]) for f in found] == [(1, f'"{LONG}"'), (1, f'"{other}"'), (2, f'"{LONG}"'), (3, f'"{other}"')]


def test_a_name_inside_a_do_block_is_reported_on_its_line():
    finding = lint_one(f'DO $$\nBEGIN\n  CREATE INDEX "{LONG}" ON "A" (a);\nEND $$;', RULE)
    assert finding.line == 3


@pytest.mark.parametrize(
    "sql",
    [
        f'CREATE INDEX "{"x" * 63}" ON "A" (a);',
        f"COMMENT ON TABLE \"A\" IS '{LONG}';",
        f'-- {LONG}\nCREATE TABLE "A" (a int);',
        f'SELECT 1 AS "{"x" * 60}""";',
        f'CREATE INDEX "{LONG}" ON "A" (a); -- deploy-gate-ignore identifier-too-long',
    ],
    ids=["63-bytes", "string-literal", "comment", "escaped-quote-63-bytes", "suppressed"],
)
def test_names_postgresql_keeps_and_text_that_is_no_name_pass(sql):
    lint_ok(sql, RULE)


def test_a_file_that_does_not_parse_has_no_names_to_check():
    assert [f.rule for f in lint_migration(f'CREATE INDEX "{LONG}" ON;', "x")] == ["syntax-error"]


@pytest.mark.parametrize(
    "name",
    [
        "a name with spaces that goes on and on until it is longer than sixty-three bytes",
        'quoted""parts' + "_x" * 30,
        "short" + '""' * 60,
    ],
    ids=["spaces", "escaped-quote-then-long-run", "escaped-quotes-only"],
)
def test_quoted_names_with_spaces_and_escaped_quotes_are_read(name):
    finding = lint_one(f'CREATE INDEX "{name}" ON "A" (a);', RULE)
    assert finding.message.startswith(f'"{name}" is {len(name.replace(chr(34) * 2, chr(34)).encode())} bytes')
