import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-column-default"


def test_dropping_a_default_is_a_warning():
    finding = lint_one('ALTER TABLE "Order" ALTER COLUMN "status" DROP DEFAULT;', RULE)
    assert finding.severity == "warning"
    assert finding.message == (
        'DROP DEFAULT on "Order"."status": the running application\'s inserts that leave it out store NULL, or fail (23502) if it is NOT NULL'
    )


def test_dropping_an_identity_is_reported():
    assert lint_one('ALTER TABLE "Order" ALTER COLUMN "id" DROP IDENTITY IF EXISTS;', RULE).message.startswith('DROP IDENTITY on "Order"."id"')


def test_prismas_autoincrement_removal_is_reported():
    sql = '-- AlterTable\nALTER TABLE "Order" ALTER COLUMN "id" DROP DEFAULT;\nDROP SEQUENCE "Order_id_seq";'
    assert lint_one(sql, RULE).line == 2


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "Order" ALTER COLUMN "status" DROP DEFAULT;\nALTER TABLE "Order" ALTER COLUMN "status" TYPE "S" USING ("status"::text::"S");\n'
        'ALTER TABLE "Order" ALTER COLUMN "status" SET DEFAULT \'NEW\';',
        'ALTER TABLE "Order" ALTER COLUMN "status" SET DEFAULT \'NEW\';',
        'CREATE TABLE "Scratch" (n int DEFAULT 1);\nALTER TABLE "Scratch" ALTER COLUMN "n" DROP DEFAULT;',
        'ALTER TABLE "Order" ADD COLUMN "n" int DEFAULT 0;\nALTER TABLE "Order" ALTER COLUMN "n" DROP DEFAULT;',
    ],
    ids=["set-again-later", "set-default", "new-table", "new-column"],
)
def test_defaults_the_running_application_keeps_pass(sql):
    lint_ok(sql, RULE)


def test_a_default_set_before_the_drop_does_not_excuse_it():
    lint_one('ALTER TABLE "Order" ALTER COLUMN "status" SET DEFAULT \'NEW\';\nALTER TABLE "Order" ALTER COLUMN "status" DROP DEFAULT;', RULE)
