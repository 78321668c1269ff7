import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "drop-type"


def test_dropping_an_existing_type_is_a_warning():
    finding = lint_one('-- DropEnum\nDROP TYPE "Role";', RULE)
    assert (finding.severity, finding.line) == ("warning", 2)
    assert finding.message == 'DROP TYPE "Role" breaks the running application\'s queries that name it (42704)'


def test_cascade_is_said_and_a_recreation_does_not_excuse_it():
    finding = lint_one('DROP TYPE "Role" CASCADE;\nCREATE TYPE "Role" AS ENUM (\'A\');', RULE)
    assert finding.message.endswith("and CASCADE drops every column of that type with its data")


def test_each_type_and_domain_is_reported():
    found = lint_errors('DROP TYPE "A", "audit"."B";\nDROP DOMAIN "Email";', RULE)
    assert [f.message.split(" breaks")[0] for f in found] == ['DROP TYPE "A"', 'DROP TYPE "audit"."B"', 'DROP DOMAIN "Email"']


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TYPE "Scratch" AS ENUM (\'a\');\nDROP TYPE "Scratch";',
        'CREATE DOMAIN "Email" AS text;\nDROP TYPE "Email";',
        'ALTER TYPE "Role" RENAME TO "Role_old";\nCREATE TYPE "Role" AS ENUM (\'A\');\nDROP TYPE "Role_old";',
        'DROP TYPE IF EXISTS "Role";\nCREATE TYPE "Role" AS ENUM (\'A\');',
        'DROP TABLE "Role";',
        'DROP TYPE "Role"; -- deploy-gate-ignore drop-type',
    ],
    ids=["created-in-this-file", "domain-dropped-as-type", "prisma-enum-replacement", "created-again", "table", "suppressed"],
)
def test_types_the_running_application_cannot_be_using_pass(sql):
    lint_ok(sql, RULE)


def test_a_type_created_in_another_schema_does_not_excuse_it():
    lint_one('CREATE TYPE "audit"."Role" AS ENUM (\'A\');\nDROP TYPE "public"."Role";', RULE)
