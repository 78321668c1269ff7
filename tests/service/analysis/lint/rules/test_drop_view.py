import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "drop-view"


def test_dropping_an_existing_view_is_a_warning():
    finding = lint_one('DROP VIEW "ActivePatients";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'DROP VIEW "ActivePatients" breaks the running application\'s queries of it (42P01)'


def test_materialized_views_and_cascade_are_reported():
    finding = lint_one('DROP MATERIALIZED VIEW "analytics"."DailyRevenue" CASCADE;', RULE)
    assert finding.message.startswith('DROP MATERIALIZED VIEW "analytics"."DailyRevenue" breaks')
    assert finding.message.endswith("and CASCADE drops the views built on it")


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE VIEW "V" AS SELECT 1 AS n;\nDROP VIEW "V";',
        'DROP VIEW IF EXISTS "V";\nCREATE VIEW "V" AS SELECT 2 AS n;',
        'DROP VIEW "V";\nCREATE MATERIALIZED VIEW "V" AS SELECT 2 AS n;',
        'DROP TABLE "V";',
    ],
    ids=["created-in-this-file", "created-again", "materialized-instead", "table"],
)
def test_views_the_running_application_still_finds_pass(sql):
    lint_ok(sql, RULE)


def test_a_view_created_again_after_cascade_is_still_reported():
    lint_one('DROP VIEW "V" CASCADE;\nCREATE VIEW "V" AS SELECT 2 AS n;', RULE)
