import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "rename-view"


def test_renaming_an_existing_view_is_a_warning():
    finding = lint_one('ALTER VIEW "ActivePatients" RENAME TO "CurrentPatients";', RULE)
    assert finding.severity == "warning"
    assert finding.message == 'renaming view "ActivePatients" to "CurrentPatients" breaks the running application\'s queries of it (42P01)'


def test_materialized_views_are_reported():
    assert lint_one('ALTER MATERIALIZED VIEW "analytics"."Daily" RENAME TO "DailyRevenue";', RULE).message.startswith(
        'renaming materialized view "analytics"."Daily"'
    )


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE VIEW "V" AS SELECT 1 AS n;\nALTER VIEW "V" RENAME TO "W";',
        'ALTER VIEW "V" RENAME TO "V_old";\nCREATE VIEW "V" AS SELECT 2 AS n;',
        'ALTER TABLE "V" RENAME TO "W";',
        'ALTER VIEW "V" RENAME COLUMN "a" TO "b";',
    ],
    ids=["created-in-this-file", "name-taken-again", "table", "column"],
)
def test_renames_the_running_application_does_not_see_pass(sql):
    lint_ok(sql, RULE)
