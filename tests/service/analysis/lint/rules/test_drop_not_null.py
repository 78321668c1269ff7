import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-not-null"


def test_dropping_not_null_is_information():
    finding = lint_one('-- AlterTable\nALTER TABLE "Appointment" ALTER COLUMN "providerDisplayName" DROP NOT NULL;', RULE)
    assert (finding.severity, finding.line) == ("info", 2)
    assert finding.message == (
        'DROP NOT NULL on "Appointment"."providerDisplayName": once NULL is written, the running application\'s Prisma Client fails reading those rows (P2032)'
    )


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (a text NOT NULL);\nALTER TABLE "Scratch" ALTER COLUMN "a" DROP NOT NULL;',
        'ALTER TABLE "User" ADD COLUMN "a" text NOT NULL DEFAULT \'\';\nALTER TABLE "User" ALTER COLUMN "a" DROP NOT NULL;',
        'ALTER TABLE "User" ALTER COLUMN "a" SET NOT NULL;',
    ],
    ids=["new-table", "new-column", "set-not-null"],
)
def test_columns_the_running_application_never_read_pass(sql):
    lint_ok(sql, RULE)
