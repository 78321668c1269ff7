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
