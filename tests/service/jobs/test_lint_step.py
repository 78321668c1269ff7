"""The lines `gate` and `wait` print from a job's `lint` step (service/jobs/lint_step.py).

The steps here are what a worker records: the real linter's findings at a policy's levels, and
the registry's deploy families. tests/service/cli/test_gate.py shows the same lines in a build.
"""

from collections import Counter

from service.analysis.lint import lint_migrations
from service.analysis.lint.registry import deploy_risk_families
from service.jobs.lint_step import SHOWN_WARNINGS, lint_lines, lint_step_data
from service.prisma.migrations import migrations_from_bundle

JOB = {"id": "00000000-0000-4000-8000-000000000007", "target": "staging"}
PATIENTS = 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "email" TEXT);\n'
# Explicit transaction control (a transaction trap), an index that blocks writes and no lock_timeout (lock safety).
INDEX = 'BEGIN;\nCREATE INDEX "Patient_email_idx" ON "Patient"("email");\nCOMMIT;\n'


def step(scripts, severities=None):
    findings = [finding.to_dict() for finding in lint_migrations(migrations_from_bundle(scripts), severities)]
    return lint_step_data(findings, deploy_risk_families())


def listed(lines):
    """(migration, rule) of each warning line."""
    return [tuple(line.split()[i].rstrip(":") for i in (0, 3)) for line in lines[1:] if not line.startswith(("      help: ", "    … "))]


def test_the_headline_counts_every_finding_by_level_as_the_policy_set_it():
    data = step({"20240101_patients": PATIENTS, "20240102_index": INDEX}, {"index-without-concurrently": "info"})
    counts = Counter(finding["severity"] for finding in data["findings"])
    assert counts["info"] >= 1 and counts["warning"] >= 2  # the rule the policy lowered is counted as info
    migrations = len({finding["migration"] for finding in data["findings"]})

    headline = lint_lines(data, JOB, ["20240102_index"])[0]

    by_level = [f"{counts['error']} errors"] if counts["error"] else []
    by_level += [f"{counts['warning']} warnings", f"{counts['info']} info"]
    assert headline.startswith(f"  lint (target staging's policy): {', '.join(by_level)} in {migrations} migrations; ")


def test_the_warnings_listed_are_those_of_the_deploy_families_in_the_pending_migrations_with_their_help():
    data = step({"20240101_patients": PATIENTS, "20240102_index": INDEX}, {"index-without-concurrently": "info"})
    expected = [
        (f["migration"], f["rule"])
        for f in data["findings"]
        if f["severity"] == "warning" and f["family"] in deploy_risk_families() and f["migration"] == "20240102_index"
    ]
    assert ("20240102_index", "explicit-transaction-control") in expected and ("20240102_index", "missing-lock-timeout") in expected

    lines = lint_lines(data, JOB, ["20240102_index"])

    assert lines[0].endswith(f"; warnings that matter for this deploy ({', '.join(deploy_risk_families())}): {len(expected)} in the pending migrations")
    assert listed(lines) == expected
    # Lowered to info by the target's policy, so not listed; the applied migration's warnings neither.
    assert all("index-without-concurrently" not in line and "20240101_patients" not in line for line in lines[1:])
    transaction = next(i for i, line in enumerate(lines) if " explicit-transaction-control (transaction): " in line)
    assert lines[transaction + 1].startswith("      help: ")


def test_without_a_status_step_the_warnings_of_the_whole_bundle_are_listed():
    data = step({"20240101_patients": PATIENTS, "20240102_index": INDEX})
    lines = lint_lines(data, JOB, None)
    assert lines[0].endswith(" in the bundle")
    assert {migration for migration, _ in listed(lines)} == {
        f["migration"] for f in data["findings"] if f["family"] in deploy_risk_families() and f["severity"] == "warning"
    }


def test_nothing_pending_says_none_matter():
    data = step({"20240101_patients": PATIENTS, "20240102_index": INDEX})
    lines = lint_lines(data, JOB, [])
    assert lines == [lines[0]] and lines[0].endswith(": none in the pending migrations")


def test_the_selection_is_the_families_the_step_recorded():
    """A family the worker's catalogue selects (one merged after this gate was built) is listed too."""
    finding = {"rule": "rename-column-in-use", "severity": "warning", "message": "renames a column", "line": 1, "column": 1, "help": "expand first"}
    data = {
        "findings": [
            {**finding, "migration": "20240102_rename", "family": "backward-compatibility"},
            {**finding, "migration": "20240102_rename", "family": "style"},
        ],
        "deploy_families": ["transaction", "locking", "backward-compatibility"],
    }
    lines = lint_lines(data, JOB, ["20240102_rename"])
    assert lines[1:] == ["    20240102_rename line 1: rename-column-in-use (backward-compatibility): renames a column", "      help: expand first"]


def test_a_step_recorded_before_the_selection_existed_gets_the_headline_only():
    data = step({"20240102_index": INDEX})
    old = {"findings": [{key: value for key, value in finding.items() if key != "family"} for finding in data["findings"]]}
    assert lint_lines(old, JOB, ["20240102_index"]) == [lint_lines(data, JOB, ["20240102_index"])[0].split("; ")[0]]


def test_no_findings_is_said():
    assert lint_lines(lint_step_data([], deploy_risk_families()), JOB, []) == ["  lint (target staging's policy): no findings"]


def test_a_long_list_is_cut_and_points_at_the_report():
    scripts = {f"2024010{index}_index_{index}": INDEX.replace("Patient_email_idx", f"Patient_email_{index}_idx") for index in range(1, 10)}
    data = step(scripts)
    pending = list(scripts)
    lines = lint_lines(data, JOB, pending)
    total = int(lines[0].rsplit(": ", 1)[1].split()[0])
    assert total > SHOWN_WARNINGS
    assert len(listed(lines)) == SHOWN_WARNINGS
    assert lines[-1] == f"    … and {total - SHOWN_WARNINGS} more: deploy-gate jobs report {JOB['id']}"
