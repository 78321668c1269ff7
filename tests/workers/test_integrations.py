"""End to end on a real worker: a webhook's job runs, its verdict reaches the fake Vercel and GitHub APIs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from service import integrations
from service.config.settings import Settings
from service.http import create_app, webhooks
from tests.contract import ContractClient
from tests.logs import logged_text
from tests.platforms import VERCEL_TOKEN
from tests.service.integrations.conftest import PUBLIC_URL
from tests.service.integrations.payloads import (
    APP_ID,
    GITHUB_SECRET,
    PROJECT,
    REPOSITORY,
    TEAM,
    VERCEL_SECRET,
    protection_rule,
    signed_github,
    signed_vercel,
    vercel_event,
)
from workers import integrations as integration_tasks
from workers import state

AUTH = {"Authorization": "Bearer ci-token"}
CREATE = {"name": "20240101_patients", "sql": 'CREATE TABLE IF NOT EXISTS "Patient" ("id" BIGSERIAL PRIMARY KEY);'}
DROP = {"name": "20240102_drop", "sql": 'DROP TABLE "Patient";'}


@pytest.fixture
def integrated_env(service_env, vercel_api, github_api, github_key, monkeypatch):
    """The service's targets file with the Vercel and GitHub integrations on the fakes (staging is the target)."""
    path = Path(os.environ["DEPLOY_GATE_CONFIG"])
    path.write_text(
        f'public_url = "{PUBLIC_URL}"\n{path.read_text()}\n'
        f'[integrations.vercel]\nwebhook_secret_env = "TEST_VERCEL_SECRET"\ntoken_env = "TEST_VERCEL_TOKEN"\n'
        f'team_id = "{TEAM}"\napi_url = "{vercel_api.url}"\n\n'
        f'[[integrations.vercel.projects]]\nproject_id = "{PROJECT}"\ntargets = {{ production = "staging" }}\n\n'
        f'[integrations.github]\nwebhook_secret_env = "TEST_GITHUB_SECRET"\napp_id = {APP_ID}\nprivate_key_env = "TEST_GITHUB_KEY"\n'
        f'api_url = "{github_api.url}"\nenvironments = {{ "{REPOSITORY}:production" = "staging" }}\n'
    )
    monkeypatch.setenv("TEST_VERCEL_SECRET", VERCEL_SECRET)
    monkeypatch.setenv("TEST_VERCEL_TOKEN", VERCEL_TOKEN)
    monkeypatch.setenv("TEST_GITHUB_SECRET", GITHUB_SECRET)
    monkeypatch.setenv("TEST_GITHUB_KEY", github_key.private_pem)
    # Small waits for the tests, the same code paths.
    monkeypatch.setattr(integrations, "RETRY_BASE_SECONDS", 0.05)
    monkeypatch.setattr(integration_tasks, "KEEP_FRESH_SECONDS", 0.5)
    state.reset()
    yield
    state.reset()


@pytest.fixture
def held():
    """Jobs the API enqueued, held back until a test lets them run."""
    return []


@pytest.fixture
def gate(integrated_env, celery_session_app, celery_session_worker, held):
    app = create_app(Settings.from_env(), enqueue=lambda *job_ids: held.extend(job_ids))
    app.test_client_class = ContractClient
    # The first sync of a new report goes to the test worker's broker and queue.
    app.extensions[webhooks.REPORT_SYNC] = lambda job_id, source: celery_session_app.send_task(integration_tasks.SYNC_REPORT_TASK, args=[job_id, source])
    yield app.test_client()
    app.extensions["deploy_gate"].close()


def run(celery_session_app, job_id: str) -> None:
    celery_session_app.send_task("deploy_gate.run_job", args=[job_id])


def finished(client, job_id: str, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}?wait=5", headers=AUTH).get_json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            return job
    raise AssertionError(f"job {job_id} did not finish: {job}")


def beat_until(celery_session_app, fake, predicate, seconds: float = 30.0) -> None:
    """Run the beat task (as celery beat would) until the fake has seen what `predicate` wants."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with fake.lock:
            if predicate(fake.calls):
                return
        celery_session_app.send_task(integration_tasks.SYNC_DUE_TASK)
        time.sleep(0.3)
    raise AssertionError(f"not seen in time; calls: {[(c.method, c.path, c.status, c.body) for c in fake.calls]}")


def store_bundle(client, celery_session_app, migrations) -> None:
    response = client.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": migrations}, headers=AUTH)
    job_id = response.get_json()["id"]
    run(celery_session_app, job_id)
    finished(client, job_id)


def patches(calls, **wanted) -> list:
    return [c for c in calls if c.method == "PATCH" and 200 <= c.status < 300 and all(c.body.get(k) == v for k, v in wanted.items())]


def test_a_vercel_check_run_carries_the_verdict_despite_two_failures(gate, celery_session_app, vercel_api, held, caplog):
    caplog.set_level(logging.INFO)
    store_bundle(gate, celery_session_app, [CREATE])
    held.clear()
    vercel_api.add_deployment("dpl_e2e")
    vercel_api.fail(500, 503)

    body, headers = signed_vercel(vercel_event("deployment.created", "dpl_e2e"))
    response = gate.post("/v1/webhooks/vercel", data=body, headers=headers)
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert held == [job_id]

    # The first sync, right after the webhook: two failures retried by the task, then the project's check is made.
    vercel_api.wait_for(lambda calls: any(c.method == "POST" and c.status == 200 for c in calls))
    assert [(c.method, c.status) for c in vercel_api.calls] == [("GET", 500), ("GET", 503), ("GET", 200), ("POST", 200)]
    [check] = vercel_api.project_checks.values()
    assert (check["name"], check["blocks"], check["requires"], check["isRerequestable"]) == ("deploy-gate", "deployment-alias", "none", True)

    # Vercel runs the check on the deployment and announces the run: the job's report takes it.
    [check_run] = vercel_api.start_runs("dpl_e2e")
    body, headers = signed_vercel(vercel_event("deployment.checkrun.start", "dpl_e2e", check_run=check_run))
    announced = gate.post("/v1/webhooks/vercel", data=body, headers=headers)
    assert (announced.status_code, announced.get_json()["status"], announced.get_json()["job_id"]) == (200, "recorded", job_id)
    vercel_api.wait_for(lambda calls: patches(calls, status="running"))

    run(celery_session_app, job_id)
    job = finished(gate, job_id)
    assert (job["state"], job["verdict"]) == ("succeeded", "proceed")
    beat_until(celery_session_app, vercel_api, lambda calls: patches(calls, status="completed"))
    told = vercel_api.runs[check_run["id"]]
    assert (told["status"], told["conclusion"], told["conclusionText"], told["externalId"]) == ("completed", "succeeded", "proceed", job_id)
    assert told["externalUrl"] == f"{PUBLIC_URL}/v1/jobs/{job_id}/report"
    assert len(vercel_api.runs) == 1 and len(vercel_api.project_checks) == 1 and vercel_api.violations == []
    assert gate.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()["verdict"] == "proceed", "the failures changed nothing"
    # Nothing more to say: the report is closed.
    count = len(vercel_api.calls)
    celery_session_app.send_task(integration_tasks.SYNC_DUE_TASK)
    time.sleep(0.5)
    assert len(vercel_api.calls) == count
    assert VERCEL_TOKEN not in logged_text(caplog) and VERCEL_SECRET not in logged_text(caplog)


@pytest.mark.parametrize(
    "migrations, state, in_comment",
    [([CREATE], "approved", "proceed."), ([CREATE, DROP], "rejected", "- lint drop-table in 20240102_drop")],
)
def test_a_protection_rule_is_answered_with_the_verdict(gate, celery_session_app, github_api, held, caplog, migrations, state, in_comment):
    caplog.set_level(logging.INFO)
    store_bundle(gate, celery_session_app, migrations)
    held.clear()
    github_api.add_pending(31337, "production")
    body, headers = signed_github("deployment_protection_rule", protection_rule(github_api.url, run_id=31337))
    response = gate.post("/v1/webhooks/github", data=body, headers=headers)
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    time.sleep(0.3)
    assert github_api.calls == [], "nothing is answered before the job ends"

    [held_job] = held
    run(celery_session_app, held_job)
    job = finished(gate, job_id)
    beat_until(celery_session_app, github_api, lambda calls: any(c.status == 204 for c in calls))
    [review] = github_api.reviews
    assert (review["run_id"], review["environment_name"], review["state"]) == (31337, "production", state)
    assert in_comment in review["comment"] and f"{PUBLIC_URL}/v1/jobs/{job_id}/report" in review["comment"]
    assert job["verdict"] == ("proceed" if state == "approved" else "blocked")
    assert github_api.violations == [] and github_api.jwt_claims[0]["iss"] == str(APP_ID)
    for token in github_api.tokens:
        assert token not in logged_text(caplog)
    assert "PRIVATE KEY" not in logged_text(caplog) and GITHUB_SECRET not in logged_text(caplog)
