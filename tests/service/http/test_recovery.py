"""Recovery endpoints: approvals, and recover, rollback, restore, cut-over and failover requests."""

from dataclasses import replace

import pytest

from service.config.records import RdsSettings
from service.jobs.states import JobKind, JobState
from service.store import repository
from tests.service.http.conftest import auth
from tests.service.http.test_deploys import MIGRATIONS


@pytest.fixture
def with_rds(config):
    config.targets["prod"] = replace(config.targets["staging"], name="prod", rds=RdsSettings(region="eu-west-1", instance="prod-db"))
    return config


def stored_bundle(client):
    assert client.post("/v1/deploys", json={"target": "staging", "migrations": MIGRATIONS}, headers=auth()).status_code == 202


def waiting_job(app):
    with app.extensions["deploy_gate"].pool.connection() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.RECOVER, target="staging", requested_by="ci")
        repository.transition(conn, job.id, JobState.RUNNING)
        plan = {"step": "act:1", "plan": ["run the rollback SQL of 20240102_x"], "action": "run_rollback_sql"}
        repository.transition(conn, job.id, JobState.WAITING_APPROVAL, reasons=["needs a person"], facts={"approval": plan})
    return job.id


def test_a_recovery_uses_the_last_stored_bundle(client, enqueued):
    assert client.post("/v1/targets/staging/recoveries", json={}, headers=auth()).status_code == 422
    stored_bundle(client)
    response = client.post("/v1/targets/staging/recoveries", json={"apply": True}, headers={**auth(), "Idempotency-Key": "r1"})
    assert response.status_code == 202
    job = response.get_json()
    assert (job["kind"], job["params"], job["state"]) == ("recover", {"phase": "failed", "apply": True}, "queued")
    assert enqueued[-1] == job["id"] and response.headers["Location"] == f"/v1/jobs/{job['id']}"
    again = client.post("/v1/targets/staging/recoveries", json={"apply": True}, headers={**auth(), "Idempotency-Key": "r1"})
    assert again.status_code == 200 and again.get_json()["id"] == job["id"]


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/v1/targets/nowhere/recoveries", {}, 404),
        ("/v1/targets/staging/recoveries", {"apply": "yes please"}, 422),
        ("/v1/targets/staging/recoveries", {"surprise": 1}, 422),
        ("/v1/targets/staging/recoveries", [1], 400),
        ("/v1/targets/staging/rollbacks", {}, 422),
        ("/v1/targets/staging/rollbacks", {"migration": "../etc"}, 422),
        ("/v1/targets/staging/restores", {"snapshot_id": "s1"}, 422),  # no RDS configured
        ("/v1/targets/staging/failovers", {}, 422),  # no RDS, so no read replica
        ("/v1/targets/nowhere/failovers", {}, 404),
    ],
)
def test_bad_requests_store_and_enqueue_nothing(client, app, enqueued, path, body, status):
    stored_bundle(client)
    before = len(enqueued)
    response = client.post(path, json=body, headers=auth())
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert len(enqueued) == before
    with app.extensions["deploy_gate"].pool.connection() as conn:
        assert [job.kind for job in repository.list_jobs(conn)] == [JobKind.CHECK]


def test_a_rollback_request(client, enqueued):
    stored_bundle(client)
    response = client.post("/v1/targets/staging/rollbacks", json={"migration": MIGRATIONS[0]["name"]}, headers=auth())
    assert response.status_code == 202
    assert (response.get_json()["kind"], response.get_json()["params"]) == ("rollback", {"migration": MIGRATIONS[0]["name"]})


@pytest.mark.parametrize(
    "body, status",
    [
        ({"snapshot_id": "rds:prod-db-2026-11-20"}, 202),
        ({"point_in_time": "2026-11-20T10:00:00+00:00", "new_identifier": "prod-db-recovery"}, 202),
        ({"use_latest_restorable_time": True}, 202),
        ({}, 422),
        ({"snapshot_id": "s1", "use_latest_restorable_time": True}, 422),
        ({"point_in_time": "2026-11-20T10:00:00"}, 422),  # no time zone
        ({"use_latest_restorable_time": True, "new_identifier": "bad--name"}, 422),
    ],
)
def test_restore_requests(client, with_rds, body, status):
    response = client.post("/v1/targets/prod/restores", json=body, headers=auth())
    assert response.status_code == status, response.get_json()
    if status == 202:
        job = response.get_json()
        assert job["kind"] == "restore" and job["params"]["action"] == "restore"
        assert job["params"].get("new_identifier") == body.get("new_identifier")


def test_approve_needs_the_approve_scope_and_resumes_the_job(client, app, enqueued):
    job_id = waiting_job(app)
    assert client.post(f"/v1/jobs/{job_id}/approve", json={}, headers=auth("ci-token")).status_code == 403
    response = client.post(f"/v1/jobs/{job_id}/approve", json={"comment": "looked at the plan"}, headers=auth("oncall-token"))
    assert response.status_code == 200
    assert response.get_json()["state"] == "running" and enqueued[-1] == job_id
    events = client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()["events"]
    approval = next(e for e in events if e["kind"] == "approval")
    assert (approval["step"], approval["data"]) == ("act:1", {"approved": True, "by": "oncall", "comment": "looked at the plan"})
    again = client.post(f"/v1/jobs/{job_id}/approve", json={}, headers=auth("oncall-token"))
    assert again.status_code == 409 and "not waiting for approval" in again.get_json()["detail"]


def test_reject_ends_the_job_blocked(client, app, enqueued):
    job_id = waiting_job(app)
    waited_with = client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()["reasons"]
    before = list(enqueued)
    response = client.post(f"/v1/jobs/{job_id}/reject", json={"comment": "too risky"}, headers=auth("oncall-token"))
    assert response.status_code == 200
    job = response.get_json()
    rejection = ["rejected by oncall: too risky", *(f"{reason} (while it waited for approval)" for reason in waited_with)]
    assert waited_with and (job["state"], job["verdict"], job["reasons"]) == ("succeeded", "blocked", rejection)
    assert enqueued == before


def test_approving_an_unknown_job_is_404(client):
    response = client.post("/v1/jobs/00000000-0000-4000-8000-000000000000/approve", json={}, headers=auth("oncall-token"))
    assert response.status_code == 404


def test_a_cutover_needs_a_finished_restore(client, app):
    job_id = waiting_job(app)
    response = client.post(f"/v1/jobs/{job_id}/cutover", headers=auth())
    assert response.status_code == 409 and response.get_json()["detail"] == f"job {job_id} is not a restore"


def test_a_failover_request_starts_a_job_for_the_configured_replica(client, config, enqueued):
    config.targets["prod"] = replace(
        config.targets["staging"], name="prod", rds=RdsSettings(region="eu-west-1", instance="prod-db", read_replica="Prod-DB-Replica")
    )
    headers = {**auth(), "Idempotency-Key": "failover-1"}
    response = client.post("/v1/targets/prod/failovers", headers=headers)
    assert response.status_code == 202
    job = response.get_json()
    assert (job["kind"], job["params"], job["state"]) == ("failover", {"replica": "prod-db-replica"}, "queued")
    assert enqueued[-1] == job["id"] and response.headers["Location"] == f"/v1/jobs/{job['id']}"
    again = client.post("/v1/targets/prod/failovers", json={}, headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == job["id"] and enqueued.count(job["id"]) == 1


def test_a_failover_of_a_target_without_a_replica_says_how_to_configure_one(client, with_rds, enqueued):
    response = client.post("/v1/targets/prod/failovers", json={}, headers=auth())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["title"] == "The target has no read replica to fail over to"
    assert (
        problem["detail"]
        == 'target prod names no read replica to fail over to: add read_replica = "<the read replica of instance prod-db>" to [targets.prod.rds] in the targets file'
    )
    assert enqueued == []


@pytest.mark.parametrize(("body", "token", "status"), [({"replica": "other"}, "ci-token", 422), ({}, "oncall-token", 403)])
def test_a_failover_takes_no_replica_from_the_request_and_needs_the_deploy_scope(client, with_rds, enqueued, body, token, status):
    with_rds.targets["prod"] = replace(with_rds.targets["prod"], rds=replace(with_rds.targets["prod"].rds, read_replica="prod-db-replica"))
    response = client.post("/v1/targets/prod/failovers", json=body, headers=auth(token))
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert enqueued == []
