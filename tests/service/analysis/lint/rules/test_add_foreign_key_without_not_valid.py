import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-foreign-key-without-not-valid"

FOREIGN_KEY = 'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")'


def test_validated_foreign_key_on_an_existing_table_is_reported():
    finding = lint_one(FOREIGN_KEY + ";", RULE)
    assert finding.message == ('adding "Post_authorId_fkey" to "Post" checks every row while blocking writes to it and to "User"')


def test_a_new_column_with_references_is_reported_with_its_own_help():
    finding = lint_one('ALTER TABLE "Post" ADD COLUMN "editorId" INT REFERENCES "User"("id");', RULE)
    assert 'REFERENCES "User"' in finding.message and "NOT VALID" in finding.help


@pytest.mark.parametrize(
    "sql",
    [
        FOREIGN_KEY + " NOT VALID;",
        'CREATE TABLE "Post" ("authorId" int);\n' + FOREIGN_KEY + ";",
        'CREATE TABLE "Post" ("authorId" int REFERENCES "User"("id"));',
        'ALTER TABLE "Post" VALIDATE CONSTRAINT "Post_authorId_fkey";',
    ],
    ids=["not-valid", "new-table", "inline-in-create-table", "validate"],
)
def test_not_valid_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
