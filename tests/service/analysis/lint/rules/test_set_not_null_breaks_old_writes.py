import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "set-not-null-breaks-old-writes"


def test_set_not_null_on_an_existing_column_is_a_warning():
    finding = lint_one('ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'SET NOT NULL on "User"."email": the running application\'s inserts that leave it out, and its writes of NULL, fail (23502)'


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "Visit" ALTER COLUMN "minutes" SET NOT NULL,\nALTER COLUMN "minutes" SET DEFAULT 30;',
        'ALTER TABLE "Visit" ALTER COLUMN "minutes" SET DEFAULT 30;\nALTER TABLE "Visit" ALTER COLUMN "minutes" SET NOT NULL;',
    ],
    ids=["same-statement", "earlier"],
)
def test_a_default_set_in_the_file_leaves_only_writes_of_null(sql):
    assert lint_one(sql, RULE).message == 'SET NOT NULL on "Visit"."minutes": the running application\'s writes of NULL to it fail (23502)'


def test_a_default_set_on_another_column_or_after_does_not_count():
    sql = 'ALTER TABLE "Visit" ALTER COLUMN "other" SET DEFAULT 1;\nALTER TABLE "Visit" ALTER COLUMN "minutes" SET NOT NULL;\nALTER TABLE "Visit" ALTER COLUMN "minutes" SET DEFAULT 30;'
    assert "inserts that leave it out" in lint_one(sql, RULE).message


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (email text);\nALTER TABLE "Scratch" ALTER COLUMN "email" SET NOT NULL;',
        'ALTER TABLE "User" ADD COLUMN "tier" text;\nUPDATE "User" SET "tier" = \'basic\';\nALTER TABLE "User" ALTER COLUMN "tier" SET NOT NULL;',
        'ALTER TABLE "User" ALTER COLUMN "email" DROP NOT NULL;',
    ],
    ids=["new-table", "new-column", "drop-not-null"],
)
def test_columns_the_running_application_does_not_write_pass(sql):
    lint_ok(sql, RULE)


def test_a_truncated_table_still_gets_the_running_applications_writes():
    lint_one('TRUNCATE "Cache";\nALTER TABLE "Cache" ALTER COLUMN "key" SET NOT NULL;', RULE)
