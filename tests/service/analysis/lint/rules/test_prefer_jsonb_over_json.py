from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "prefer-jsonb-over-json"


def test_json_columns_are_reported():
    assert lint_one('ALTER TABLE "Event" ADD COLUMN "payload" JSON;', RULE).message.startswith('column "payload" is json')


def test_prisma_jsonb_passes():
    lint_ok('CREATE TABLE "Event" ("payload" JSONB NOT NULL);', RULE)
