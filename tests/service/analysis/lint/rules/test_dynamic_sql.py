from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "dynamic-sql"


def test_execute_of_a_built_string_is_reported_at_its_line():
    finding = lint_one(
        "DO $$\nDECLARE t TEXT;\nBEGIN\n  FOREACH t IN ARRAY ARRAY['Patient', 'Visit'] LOOP\n"
        "    EXECUTE format('ALTER TABLE %I ADD COLUMN \"deletedAt\" TIMESTAMP(3)', t);\n  END LOOP;\nEND $$;",
        RULE,
    )
    assert finding.line == 5 and finding.severity == "warning"
    assert finding.message.startswith("EXECUTE runs SQL built at run time (format('ALTER TABLE %I ADD COLUMN")
    assert finding.message.endswith("which deploy-gate cannot check")


def test_execute_of_a_literal_is_parsed_and_checked_instead():
    script = 'DO $$ BEGIN\n  EXECUTE \'ALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "deletedAt" TIMESTAMPTZ\';\nEND $$;'
    lint_ok(script, RULE)
    lint_ok('ALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "deletedAt" TIMESTAMPTZ;', RULE)
