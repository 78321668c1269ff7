import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok

RULE = "drop-without-if-exists"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('DROP TABLE "Old";', 'DROP TABLE "Old" fails if it does not exist'),
        ('DROP INDEX "public"."Old_idx";', 'DROP INDEX "public"."Old_idx" fails if it does not exist'),
        ('DROP TYPE "Role";', 'DROP TYPE "Role" fails if it does not exist'),
        ('DROP FUNCTION "f"(int);', 'DROP FUNCTION "f" fails if it does not exist'),
        ('DROP TRIGGER "t" ON "public"."User";', 'DROP TRIGGER "t" on "public"."User" fails if it does not exist'),
        ('ALTER TABLE "User" DROP COLUMN "age";', 'DROP COLUMN "age" of "User" fails if it does not exist'),
        ('ALTER TABLE "User" DROP CONSTRAINT "User_age_check";', 'DROP CONSTRAINT "User_age_check" of "User" fails if it does not exist'),
    ],
)
def test_drops_without_if_exists_are_reported(sql, message):
    assert [finding.message for finding in lint_errors(sql, RULE)] == [message]


def test_a_handler_for_the_error_the_drop_raises_is_a_guard():
    lint_ok('DO $$ BEGIN\n  DROP TABLE "Old";\nEXCEPTION WHEN undefined_table THEN NULL;\nEND $$;', RULE)
    finding = lint_errors('DO $$ BEGIN\n  DROP TABLE "Old";\nEXCEPTION WHEN undefined_object THEN NULL;\nEND $$;', RULE)[0]
    assert finding.message.endswith("does not catch 42P01 (undefined_table)")


def test_each_object_of_one_drop_is_reported():
    assert len(lint_errors('DROP TABLE "A", "B";', RULE)) == 2


@pytest.mark.parametrize(
    "sql",
    [
        'DROP TABLE IF EXISTS "Old";',
        'DROP INDEX CONCURRENTLY IF EXISTS "i";',
        'ALTER TABLE "User" DROP COLUMN IF EXISTS "age", DROP CONSTRAINT IF EXISTS "k";',
        'CREATE TABLE IF NOT EXISTS "Scratch" (id int);\nDROP TABLE "Scratch";',
        "DO $$ BEGIN\n  IF EXISTS (SELECT 1 FROM pg_type WHERE typname = 'Role') THEN\n    DROP TYPE \"Role\";\n  END IF;\nEND $$;",
    ],
)
def test_guarded_drops_pass(sql):
    lint_ok(sql, RULE)
