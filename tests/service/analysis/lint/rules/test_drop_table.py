import pytest

from tests.service.analysis.lint.helpers import lint_errors, lint_ok, lint_one

RULE = "drop-table"


def test_dropping_an_existing_table_is_an_error():
    finding = lint_one('-- DropTable\nDROP TABLE IF EXISTS "Patient" CASCADE;', RULE)
    assert (finding.severity, finding.line) == ("error", 2)
    assert finding.message == 'DROP TABLE "Patient" deletes the table and all of its rows'


def test_each_table_of_one_drop_is_reported():
    assert [f.message.split()[2] for f in lint_errors('DROP TABLE "A", "audit"."B";', RULE)] == ['"A"', '"audit"."B"']


def test_a_drop_inside_a_do_block_is_reported():
    lint_one('DO $$ BEGIN\n  DROP TABLE "Patient";\nEND $$;', RULE)


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE TABLE "Scratch" (id int);\nDROP TABLE "Scratch";',
        'DROP VIEW "Active";',
        'DROP INDEX "Patient_idx";',
        'DROP TABLE "Patient"; -- deploy-gate-ignore drop-table',
    ],
    ids=["created-in-this-file", "view", "index", "suppressed"],
)
def test_other_drops_pass(sql):
    lint_ok(sql, RULE)


def test_a_table_created_after_the_drop_does_not_excuse_it():
    lint_one('DROP TABLE "Patient";\nCREATE TABLE "Patient" (id int);', RULE)
