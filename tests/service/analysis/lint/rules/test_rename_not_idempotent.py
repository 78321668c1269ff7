import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-not-idempotent"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('ALTER TABLE "User" RENAME TO "Member";', 'RENAME TABLE "User" to "Member" fails once it is renamed'),
        ('ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";', 'RENAME COLUMN "name" of "User" to "fullName" fails once it is renamed'),
        ('ALTER TABLE "User" RENAME CONSTRAINT "a" TO "b";', 'RENAME CONSTRAINT "a" of "User" to "b" fails once it is renamed'),
        ("ALTER TYPE \"Role\" RENAME VALUE 'MOD' TO 'MODERATOR';", "RENAME VALUE 'MOD' of \"Role\" fails once it is renamed"),
    ],
)
def test_renames_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE IF EXISTS "User" RENAME TO "Member";',
        'ALTER INDEX IF EXISTS "a" RENAME TO "b";',
        "DO $$ BEGIN\n  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE column_name = 'name') THEN\n"
        '    ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";\n  END IF;\nEND $$;',
    ],
)
def test_guarded_renames_pass(sql):
    lint_ok(sql, RULE)


def test_a_handler_for_the_error_the_rename_raises_is_a_guard():
    rename = 'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";'
    lint_ok(f"DO $$ BEGIN\n  {rename}\nEXCEPTION WHEN undefined_column THEN NULL;\nEND $$;", RULE)
    lint_one(f"DO $$ BEGIN\n  {rename}\nEXCEPTION WHEN undefined_table THEN NULL;\nEND $$;", RULE)


def test_if_exists_on_the_table_does_not_guard_a_column_rename():
    lint_one('ALTER TABLE IF EXISTS "User" RENAME COLUMN "name" TO "fullName";', RULE)
