import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "create-index-without-if-not-exists"


def test_named_index_without_if_not_exists_is_reported():
    finding = lint_one('CREATE UNIQUE INDEX "User_email_key" ON "User"("email");', RULE)
    assert finding.message == 'CREATE INDEX "User_email_key" fails if the index already exists'


def test_an_unnamed_index_is_created_again_on_every_run():
    finding = lint_one('CREATE INDEX ON "User" ("email");', RULE)
    assert "has no name" in finding.message and finding.help.startswith("Name the index")


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE INDEX IF NOT EXISTS "i" ON "User" ("email");',
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "i" ON "User" ("email");',
        'DROP INDEX IF EXISTS "i";\nCREATE INDEX "i" ON "User" ("email");',
        'DO $$ BEGIN\n  CREATE INDEX "i" ON "User" ("email");\nEXCEPTION WHEN duplicate_table THEN NULL;\nEND $$;',
    ],
)
def test_guarded_indexes_pass(sql):
    lint_ok(sql, RULE)
