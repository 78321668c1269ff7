"""Drift as the API shows it: a target's drift settings, a drift job with its `drift` fact, and its report,
every answer checked against openapi.yaml by the contract client."""

from dataclasses import replace

import pytest

from service.analysis.replay import history_keys
from service.config.records import DriftMode, DriftSettings
from service.jobs.runner import run_job
from service.jobs.states import JobKind, Verdict
from service.prisma.database import parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.replays import drop_template
from tests.service.http.conftest import auth


@pytest.fixture
def config(config):
    """Staging with a shadow server, blocking on drift, checked every 15 minutes."""
    staging = replace(config.targets["staging"], shadow=parse_database_url(ADMIN_URL), drift=DriftSettings(DriftMode.BLOCK, ("extension:*",), 15))
    return replace(config, targets={"staging": staging})


@pytest.fixture
def store(app, scratch_db):
    with scratch_db.connect() as conn:
        yield conn


@pytest.fixture
def scripts(target_db):
    local = {"20240101_patients": f'-- {target_db.name}\nCREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'}
    yield local
    drop_template(history_keys(migrations_from_bundle(local), "public")[1])


def test_a_targets_drift_settings(client):
    (target,) = client.get("/v1/targets", headers=auth("reader-token")).get_json()["targets"]
    assert target["drift"] == {"mode": "block", "ignore": ["extension:*"], "schedule_minutes": 15}


def test_a_drift_job_its_fact_and_its_report(client, store, config, target_db, scripts):
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    deployed, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    assert run_job(store, config, deployed.id).verdict is Verdict.PROCEED
    target_db.query('ALTER TABLE "Patient" ADD COLUMN "nickname" TEXT; CREATE EXTENSION IF NOT EXISTS pg_trgm')
    job, _ = repository.create_job(store, kind=JobKind.DRIFT, target="staging", requested_by="schedule", bundle_digest=digest)
    assert run_job(store, config, job.id).verdict is Verdict.BLOCKED

    found = client.get(f"/v1/jobs/{job.id}", headers=auth("reader-token")).get_json()
    line = '+ column "Patient".nickname text — not in the migrations'
    assert found["kind"] == "drift" and found["facts"]["drift"]["new"] == [line]
    assert [d["ignored_by"] for d in found["facts"]["drift"]["ignored"]] == ["extension:*"]
    listed = client.get("/v1/jobs?kind=drift", headers=auth("reader-token")).get_json()
    assert [j["id"] for j in listed["jobs"]] == [job.id]
    report = client.get(f"/v1/jobs/{job.id}/report", headers=auth("reader-token")).get_json()
    assert report["drift"]["differences"] == [line] and report["drift"]["mode"] == "block" and report["checklist"] == []
    markdown = client.get(f"/v1/jobs/{job.id}/report?format=markdown", headers=auth("reader-token")).get_data(as_text=True)
    assert markdown.startswith("# Drift report: staging") and f"```diff\n{line}\n```" in markdown
