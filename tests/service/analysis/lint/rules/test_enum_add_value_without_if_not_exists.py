import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "enum-add-value-without-if-not-exists"


def test_prisma_alter_enum_is_reported():
    finding = lint_one("-- AlterEnum\nALTER TYPE \"Role\" ADD VALUE 'MODERATOR';", RULE)
    assert finding.message == "ADD VALUE 'MODERATOR' to \"Role\" fails if the label already exists"
    assert finding.line == 2


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TYPE \"Role\" ADD VALUE IF NOT EXISTS 'MODERATOR';",
        "ALTER TYPE \"Role\" RENAME VALUE 'MOD' TO 'MODERATOR';",
        "DO $$ BEGIN\n  ALTER TYPE \"Role\" ADD VALUE 'MODERATOR';\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;",
    ],
)
def test_guarded_or_other_enum_changes_pass(sql):
    lint_ok(sql, RULE)
