import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "explicit-transaction-control"

ALTER = 'ALTER TABLE "User" ADD COLUMN "a" INT;'


def test_a_commit_followed_by_more_statements_splits_the_migration():
    finding = lint_one(f"{ALTER}\nCOMMIT;\n{ALTER}", RULE)
    assert finding.line == 2
    assert finding.message == "COMMIT commits the statements before it on their own; a failure after it leaves the migration half applied"


def test_a_wrapper_around_the_whole_file_is_reported_once_as_redundant():
    finding = lint_one(f"BEGIN;\n{ALTER}\nCOMMIT;", RULE)
    assert finding.line == 1
    assert finding.message == "BEGIN … COMMIT around the whole file is redundant: Prisma already runs it as one transaction"


@pytest.mark.parametrize(
    "sql, message",
    [
        (f"{ALTER}\nCOMMIT;", "COMMIT at the end is redundant: Prisma already runs the file as one transaction"),
        (f"BEGIN;\n{ALTER}", "BEGIN is never committed, so the transaction is still open when the file ends"),
        (f"{ALTER}\nROLLBACK;", "ROLLBACK throws away the statements before it, while Prisma records the migration as applied"),
        ("SAVEPOINT s;", "SAVEPOINT sets a savepoint, which only makes sense with transaction control the file should not have"),
        (f"START TRANSACTION;\n{ALTER}\nEND;", "START … END around the whole file is redundant: Prisma already runs it as one transaction"),
    ],
)
def test_other_transaction_control_is_reported(sql, message):
    assert lint_one(sql, RULE).message == message


def test_a_begin_in_the_middle_is_harmless_but_the_commit_with_statements_after_it_is_not():
    findings = lint_errors(f"{ALTER}\nBEGIN;\n{ALTER}\nCOMMIT;\n{ALTER}", RULE)
    assert [(f.line, f.message.split()[0]) for f in findings] == [(4, "COMMIT")]


def test_plain_statements_pass():
    lint_ok(f"SET lock_timeout = '5s';\n{ALTER}", RULE)
