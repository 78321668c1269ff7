import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok

RULE = "add-column-without-if-not-exists"


def test_each_unguarded_column_is_reported_at_its_definition():
    findings = lint_errors('ALTER TABLE "User" ADD COLUMN "a" TEXT,\nADD COLUMN IF NOT EXISTS "b" TEXT,\nADD COLUMN "c" TEXT;', RULE)
    assert [(f.line, f.column) for f in findings] == [(1, 31), (3, 12)]
    assert findings[0].message == 'ADD COLUMN "a" to "User" fails if the column already exists'


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "a" TEXT;',
        'DO $$ BEGIN\n  ALTER TABLE "User" ADD COLUMN "a" TEXT;\nEXCEPTION WHEN duplicate_column THEN NULL;\nEND $$;',
        'ALTER TABLE "User" DROP COLUMN IF EXISTS "a";',
    ],
)
def test_guarded_columns_pass(sql):
    lint_ok(sql, RULE)
