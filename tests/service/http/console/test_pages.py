"""The records behind the console's pages: which migrations need attention, lint excerpts, readable facts."""

import pytest

from service.http.console.pages import MigrationRow, TargetOverview, job_page, readable, sql_excerpt
from service.jobs.states import JobKind
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.service.http.console.conftest import BASE, gate_job


@pytest.mark.parametrize(
    "state, edited, attention",
    [("applied", False, False), ("reapplied", False, False), ("rolled_back", False, False), ("applied", True, True),
     ("failed", False, True), ("pending", False, True), ("missing_locally", False, True)],
)  # fmt: skip
def test_which_migrations_need_attention(state, edited, attention):
    assert MigrationRow("20240101_a", state, edited).attention is attention


def test_a_target_never_read_has_no_migrations_and_no_lock_holder():
    overview = TargetOverview("staging", verdict=None, status_job=None, waiting=[], last_deploy=None)
    assert overview.migrations == [] and overview.lock_holder is None


def test_a_findings_excerpt_is_its_line_with_two_either_side():
    bundle = migrations_from_bundle({"20240101_a": "\n".join(f"-- line {n}" for n in range(1, 11))})
    assert sql_excerpt(bundle, "20240101_a", 5) == "\n".join(f"-- line {n}" for n in range(3, 8))
    assert sql_excerpt(bundle, "20240101_a", 1) == "-- line 1\n-- line 2\n-- line 3"
    assert sql_excerpt(bundle, "20240101_a", None) == "" and sql_excerpt(bundle, "20240102_gone", 1) == "" and sql_excerpt(None, "20240101_a", 1) == ""


def test_facts_read_as_text_or_indented_json():
    assert readable("plain words") == "plain words"
    assert readable({"b": 1, "a": [True, None]}) == '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}'


def test_a_jobs_page_reads_its_bundle_only_to_quote_lint_findings(store, config):
    """A bundle is up to 10 MB: a job without findings (and every live update) never loads it."""
    reads = []

    def bundle():
        reads.append(1)
        return migrations_from_bundle({**BASE, "20240102_drop": 'DROP TABLE "Patient";\n'})

    linted, _ = gate_job(store, config, {**BASE, "20240102_drop": 'DROP TABLE "Patient";\n'}, kind=JobKind.CHECK, phase="pre")
    page = job_page(*repository.job_with_journal(store, linted.id), bundle=bundle)
    assert reads == [1] and {(f.finding.rule, f.excerpt) for f in page.findings} >= {("drop-table", 'DROP TABLE "Patient";')}
    queued, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    assert job_page(*repository.job_with_journal(store, queued.id), bundle=bundle).findings == [] and reads == [1]
