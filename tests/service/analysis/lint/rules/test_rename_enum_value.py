import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-enum-value"


def test_renaming_a_label_is_a_warning():
    finding = lint_one("-- AlterEnum\nALTER TYPE \"OrderStatus\" RENAME VALUE 'PAID' TO 'PAYMENT_CAPTURED';", RULE)
    assert (finding.severity, finding.line) == ("warning", 2)
    assert finding.message == (
        "renaming 'PAID' of \"OrderStatus\" to 'PAYMENT_CAPTURED' breaks the running application: its writes of 'PAID' fail (22P02) "
        "and its Prisma Client fails on rows holding 'PAYMENT_CAPTURED'"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TYPE \"S\" AS ENUM ('A');\nALTER TYPE \"S\" RENAME VALUE 'A' TO 'B';",
        "ALTER TYPE \"S\" ADD VALUE 'TMP';\nALTER TYPE \"S\" RENAME VALUE 'TMP' TO 'FINAL';",
        "ALTER TYPE \"S\" ADD VALUE 'NEW';",
        'ALTER TYPE "S" RENAME TO "T";',
    ],
    ids=["type-created-in-this-file", "label-added-in-this-file", "add-value", "type-rename"],
)
def test_labels_the_running_application_never_saw_pass(sql):
    lint_ok(sql, RULE)


def test_a_label_added_to_another_type_does_not_excuse_it():
    lint_one("ALTER TYPE \"Other\" ADD VALUE 'PAID';\nALTER TYPE \"S\" RENAME VALUE 'PAID' TO 'CAPTURED';", RULE)
