import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-constraint-without-guard"

FOREIGN_KEY = 'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;'


def test_prisma_foreign_key_is_reported_at_the_constraint():
    finding = lint_one(FOREIGN_KEY, RULE)
    assert finding.message == 'ADD CONSTRAINT "Post_authorId_fkey" on "Post" fails if it already exists'
    assert finding.column == 24


def test_an_unnamed_constraint_is_added_again_on_every_run():
    finding = lint_one('ALTER TABLE "User" ADD CHECK ("age" > 0);', RULE)
    assert "without a name" in finding.message and finding.help.startswith("Name the constraint")


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "Post" DROP CONSTRAINT IF EXISTS "Post_authorId_fkey";\n' + FOREIGN_KEY,
        f"DO $$ BEGIN\n  {FOREIGN_KEY}\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;",
        f"DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'Post_authorId_fkey') THEN\n    {FOREIGN_KEY}\n  END IF;\nEND $$;",
    ],
)
def test_guarded_constraints_pass(sql):
    lint_ok(sql, RULE)


@pytest.mark.parametrize("handler", ["duplicate_table", "others"])
def test_a_unique_constraint_needs_a_handler_for_duplicate_table(handler):
    lint_ok(f'DO $$ BEGIN\n  ALTER TABLE "C" ADD CONSTRAINT "k" UNIQUE ("code");\nEXCEPTION WHEN {handler} THEN NULL;\nEND $$;', RULE)


def test_a_handler_that_catches_the_wrong_error_is_no_guard():
    finding = lint_one('DO $$ BEGIN\n  ALTER TABLE "C" ADD CONSTRAINT "k" UNIQUE ("code");\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;', RULE)
    assert finding.message == (
        'ADD CONSTRAINT "k" on "C" fails if it already exists; the DO block\'s handler for duplicate_object does not catch 42P07 (duplicate_table)'
    )


def test_dropping_a_constraint_of_the_same_name_on_another_table_is_no_guard():
    lint_one('ALTER TABLE "Comment" DROP CONSTRAINT IF EXISTS "Post_authorId_fkey";\n' + FOREIGN_KEY, RULE)
