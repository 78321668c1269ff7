import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-enum-value"

# What Prisma writes when RESCHEDULED leaves the enum (tests/service/analysis/corpus/07_remove_rescheduled_status).
PRISMA_REMOVAL = """BEGIN;
CREATE TYPE "Status_new" AS ENUM ('SCHEDULED', 'DONE');
ALTER TABLE "Appointment" ALTER COLUMN "status" DROP DEFAULT;
ALTER TABLE "Appointment" ALTER COLUMN "status" TYPE "Status_new" USING ("status"::text::"Status_new");
ALTER TYPE "Status" RENAME TO "Status_old";
ALTER TYPE "Status_new" RENAME TO "Status";
DROP TYPE "Status_old";
ALTER TABLE "Appointment" ALTER COLUMN "status" SET DEFAULT 'SCHEDULED';
COMMIT;
"""


def test_prismas_removal_of_a_label_is_a_warning_on_each_column_it_moves():
    finding = lint_one(PRISMA_REMOVAL, RULE)
    assert (finding.severity, finding.line) == ("warning", 4)
    assert finding.message == (
        '"Appointment"."status" moves to the new enum "Status_new" (\'SCHEDULED\', \'DONE\'): any other value fails the cast here '
        "and the running application's writes (22P02)"
    )


def test_the_enum_created_under_the_old_name_after_a_rename_is_reported_too():
    sql = 'ALTER TYPE "Role" RENAME TO "Role_old";\nCREATE TYPE "Role" AS ENUM (\'USER\');\nALTER TABLE "User" ALTER COLUMN "role" TYPE "Role" USING ("role"::text::"Role");'
    assert lint_one(sql, RULE).line == 3


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TYPE "S" AS ENUM (\'A\');\nCREATE TABLE "T" ("s" text);\nALTER TABLE "T" ALTER COLUMN "s" TYPE "S" USING ("s"::"S");',
        'CREATE TYPE "S" AS ENUM (\'A\');\nALTER TABLE "T" ADD COLUMN "s" text;\nALTER TABLE "T" ALTER COLUMN "s" TYPE "S" USING ("s"::"S");',
        'ALTER TABLE "T" ALTER COLUMN "s" TYPE "S" USING ("s"::text::"S");',
        'CREATE TYPE "Pair" AS (a int, b int);\nALTER TABLE "T" ALTER COLUMN "p" TYPE "Pair";',
        'ALTER TABLE "T" ALTER COLUMN "s" TYPE "S" USING ("s"::text::"S");\nCREATE TYPE "S" AS ENUM (\'A\');',
    ],
    ids=["new-table", "new-column", "enum-not-created-here", "composite-type", "created-after"],
)
def test_other_type_changes_pass(sql):
    lint_ok(sql, RULE)
