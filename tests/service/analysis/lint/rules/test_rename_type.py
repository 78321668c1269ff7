import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-type"


def test_renaming_an_existing_type_is_a_warning():
    finding = lint_one('ALTER TYPE "Role" RENAME TO "UserRole";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'renaming type "Role" to "UserRole" breaks the running application\'s queries that name it (42704)'


def test_domains_are_reported():
    assert lint_one('ALTER DOMAIN "public"."Email" RENAME TO "EmailAddress";', RULE).message.startswith('renaming domain "public"."Email"')


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TYPE "Scratch" AS ENUM (\'a\');\nALTER TYPE "Scratch" RENAME TO "Final";',
        'ALTER TYPE "Role" RENAME TO "Role_old";\nCREATE TYPE "Role" AS ENUM (\'A\');\nDROP TYPE "Role_old";',
        'CREATE TYPE "Role_new" AS ENUM (\'A\');\nALTER TYPE "Role" RENAME TO "Role_old";\nALTER TYPE "Role_new" RENAME TO "Role";',
        'ALTER TABLE "Role" RENAME TO "UserRole";',
        "ALTER TYPE \"Role\" RENAME VALUE 'A' TO 'B';",
    ],
    ids=["created-in-this-file", "prisma-replacement-create", "prisma-replacement-rename", "table", "enum-value"],
)
def test_renames_the_running_application_does_not_see_pass(sql):
    lint_ok(sql, RULE)


def test_a_name_taken_again_before_the_rename_does_not_excuse_it():
    lint_one('CREATE TYPE "Other" AS ENUM (\'A\');\nALTER TYPE "Role" RENAME TO "UserRole";', RULE)
