import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "enum-value-used-in-same-transaction"

ADD_VALUE = "ALTER TYPE \"Role\" ADD VALUE 'MODERATOR';\n"


@pytest.mark.parametrize(
    "use",
    [
        'ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT \'MODERATOR\';',
        'UPDATE "User" SET "role" = \'MODERATOR\' WHERE "id" = 1;',
        'CREATE TYPE "Other" AS ENUM (\'A\');\nALTER TYPE "Other" ADD VALUE \'B\';\nINSERT INTO "User" ("role") VALUES (\'MODERATOR\');',
    ],
    ids=["prisma-default", "update", "after-other-statements"],
)
def test_a_label_used_after_it_is_added_is_an_error(use):
    finding = lint_one(ADD_VALUE + use, RULE)
    assert finding.severity == "error" and finding.line == 1
    assert finding.message.startswith("'MODERATOR' is added to \"Role\" here and used at line ")
    assert finding.message.endswith("(55P04)")


def test_creating_the_type_in_the_same_file_does_not_make_an_added_label_usable():
    lint_one("CREATE TYPE \"Role\" AS ENUM ('USER');\n" + ADD_VALUE + 'CREATE TABLE "User" ("role" "Role" DEFAULT \'MODERATOR\');', RULE)


@pytest.mark.parametrize(
    "sql",
    [
        ADD_VALUE,
        ADD_VALUE + 'ALTER TABLE "User" ADD COLUMN "MODERATOR" int;',
        ADD_VALUE + 'COMMIT;\nUPDATE "User" SET "role" = \'MODERATOR\';',
        ADD_VALUE + "ALTER TYPE \"Role\" ADD VALUE 'ADMIN' AFTER 'MODERATOR';",
        'UPDATE "User" SET "role" = \'MODERATOR\';\n' + ADD_VALUE,
    ],
    ids=["no-use", "identifier-not-literal", "after-commit", "neighbour-in-alter-type", "used-before"],
)
def test_labels_not_used_in_the_same_transaction_pass(sql):
    lint_ok(sql, RULE)


def test_each_added_label_is_followed_to_its_own_first_use_within_its_transaction():
    sql = (
        "ALTER TYPE \"Role\" ADD VALUE 'A';\n"  # used only after the COMMIT: fine
        "COMMIT;\n"
        "ALTER TYPE \"Role\" ADD VALUE 'B';\n"
        "ALTER TYPE \"Role\" ADD VALUE 'C';\n"
        'UPDATE "User" SET "role" = \'A\';\n'
        'UPDATE "User" SET "role" = \'C\';\n'
        'UPDATE "User" SET "role" = \'B\';\n'
    )
    findings = lint_errors(sql, RULE)
    assert [(finding.line, finding.message.split(" here")[0]) for finding in findings] == [(3, "'B' is added to \"Role\""), (4, "'C' is added to \"Role\"")]
    assert "used at line 7" in findings[0].message and "used at line 6" in findings[1].message
