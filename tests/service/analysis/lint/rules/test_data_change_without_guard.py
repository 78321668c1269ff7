import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "data-change-without-guard"


@pytest.mark.parametrize(
    "sql, kind",
    [
        ('UPDATE "Account" SET "balance" = "balance" + 10;', "UPDATE"),
        ('UPDATE "User" SET "token" = gen_random_uuid() WHERE "active";', "UPDATE"),
        ('INSERT INTO "Role" ("name") VALUES (\'admin\');', "INSERT"),
    ],
)
def test_changes_a_second_run_would_repeat_are_reported(sql, kind):
    finding = lint_one(sql, RULE)
    assert finding.message.startswith(f"{kind} on ") and "re-run" in finding.message


def test_info_in_a_file_that_is_one_transaction_and_a_warning_where_a_failure_keeps_the_change():
    update = 'UPDATE "Account" SET "balance" = "balance" + 10;\n'
    assert lint_one(update, RULE).severity == "info"
    assert lint_one(update + 'COMMIT;\nALTER TABLE "Account" ADD COLUMN "x" INT;\n', RULE).severity == "warning"


def test_an_insert_gets_insert_specific_help():
    finding = lint_one('INSERT INTO "Role" ("name") VALUES (\'admin\');', RULE)
    assert "ON CONFLICT DO NOTHING" in finding.help


def test_a_change_inside_a_do_block_is_reported_at_its_line():
    finding = lint_one('DO $$\nBEGIN\n  UPDATE "Account" SET "balance" = "balance" + 1;\nEND\n$$;', RULE)
    assert finding.line == 3


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE "User" SET "tier" = \'basic\' WHERE "tier" IS NULL;',
        'UPDATE "User" SET "tier" = \'basic\';',
        'INSERT INTO "Role" ("name") VALUES (\'admin\') ON CONFLICT DO NOTHING;',
        'INSERT INTO "Role" ("name") SELECT \'admin\' WHERE NOT EXISTS (SELECT 1 FROM "Role" WHERE "name" = \'admin\');',
        'DELETE FROM "Session" WHERE "expired";',
    ],
)
def test_changes_that_skip_done_rows_pass(sql):
    lint_ok(sql, RULE)


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" !~ \'^\\+\';',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" !~* \'^\\+\';',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" NOT LIKE \'+%\' AND "country" = \'US\';',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" NOT ILIKE \'+%\';',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" NOT SIMILAR TO \'\\+%\';',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE NOT ("phone" LIKE \'+%\');',
        'UPDATE "User" SET "email" = lower("email") WHERE "email" <> lower("email");',
        'UPDATE "User" SET "email" = lower("email") WHERE lower("email") != "email";',
        'UPDATE "User" SET "email" = lower("email") WHERE "email" IS DISTINCT FROM lower("email");',
        'UPDATE "User" SET "email" = lower("email") WHERE NOT ("email" = lower("email"));',
        'UPDATE "Account" SET "balance" = "balance" + 10 WHERE NOT EXISTS (SELECT 1 FROM "BonusPaid" b WHERE b."accountId" = "Account"."id");',
        'UPDATE "Order" SET "shippingCents" = 499, "totalCents" = "totalCents" + 499 WHERE "shippingCents" <> 499;',
    ],
    ids=[
        "not-regex",
        "not-regex-i",
        "not-like-and",
        "not-ilike",
        "not-similar",
        "not-of-like",
        "differs-from-new-value",
        "new-value-on-the-left",
        "distinct-from-new-value",
        "not-equal-to-new-value",
        "not-exists",
        "another-set-column-done",
    ],
)
def test_a_where_that_excludes_the_rows_already_done_is_a_guard(sql):
    lint_ok(sql, RULE)


@pytest.mark.parametrize(
    "sql",
    [
        # The pattern is on a column the UPDATE does not change: done rows still match it.
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "note" NOT LIKE \'+%\';',
        # Under OR, a done row can still be picked by the other branch.
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" NOT LIKE \'+%\' OR "vip";',
        # A new value that changes again each time it is applied is never equal to the old one.
        'UPDATE "Order" SET "totalCents" = "totalCents" + 499 WHERE "totalCents" <> "totalCents" + 499;',
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" IS DISTINCT FROM \'+1\' || "phone";',
        # A positive match picks the same rows again.
        'UPDATE "Patient" SET "phone" = \'+1\' || "phone" WHERE "phone" LIKE \'%555%\';',
    ],
    ids=["other-column", "under-or", "compounding-comparison", "compounding-distinct", "positive-match"],
)
def test_a_where_that_still_picks_done_rows_is_no_guard(sql):
    lint_one(sql, RULE)
