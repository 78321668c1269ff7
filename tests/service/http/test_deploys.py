import logging

import pytest
import redis
from flask.testing import FlaskClient

from service.config.settings import Settings
from service.http import create_app
from tests.contract import ContractClient
from tests.service.http.conftest import auth
from tests.store import migrated_store

MIGRATIONS = [
    {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240102_visits", "sql": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'},
]


def post(client, body, token="ci-token", **headers):
    return client.post("/v1/deploys", json=body, headers={**auth(token), **headers})


def test_accepted_deploy_is_stored_then_enqueued(client, enqueued, scratch_db):
    response = post(client, {"target": "staging", "phase": "pre", "apply": True, "commit": "abc123", "migrations": MIGRATIONS})
    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}" == job["url"]
    assert (job["kind"], job["state"], job["verdict"]) == ("deploy", "queued", None)
    assert job["params"] == {"phase": "pre", "apply": True, "commit": "abc123"}
    assert enqueued == [job["id"]]
    assert scratch_db.query("SELECT state FROM job WHERE id = %s", (job["id"],)) == [("queued",)]


def test_phase_pre_without_apply_is_a_check_and_the_last_bundle_is_reused(client, enqueued, scratch_db):
    first = post(client, {"target": "staging", "migrations": MIGRATIONS}).get_json()
    response = post(client, {"target": "staging", "phase": "post"})
    assert response.status_code == 202
    job = response.get_json()
    assert job["kind"] == "check" and enqueued == [first["id"], job["id"]]
    bundles = scratch_db.query("SELECT DISTINCT bundle_digest FROM job WHERE id IN (%s, %s)", (first["id"], job["id"]))
    assert len(bundles) == 1 and bundles[0][0] is not None


def test_idempotency_key_answers_with_the_first_job(client, enqueued):
    first = post(client, {"target": "staging", "migrations": MIGRATIONS}, **{"Idempotency-Key": "build-42"})
    again = post(client, {"target": "staging", "migrations": MIGRATIONS}, **{"Idempotency-Key": "build-42"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert enqueued == [first.get_json()["id"]]


@pytest.mark.parametrize(
    "body, status, detail",
    [
        ({"target": "staging", "phase": "sideways", "migrations": MIGRATIONS}, 422, "phase"),
        ({"target": "staging", "apply": "yes please", "migrations": MIGRATIONS}, 422, "apply"),
        ({"target": "nowhere", "migrations": MIGRATIONS}, 404, "nowhere"),
        ({"target": "staging", "migrations": [{"name": "../etc", "sql": "SELECT 1"}]}, 422, "migrations"),
        ({"target": "staging", "migrations": [{"name": "a", "sql": 1}]}, 422, "sql"),
        ({"target": "staging", "migrations": [{"name": "a"}]}, 422, "migrations.0.sql: Missing data"),
        ({"target": "staging", "migrations": [{"name": "a", "sql": "", "checksum": "x"}]}, 422, "migrations.0.checksum: Unknown field"),
        ({"target": "staging", "migrations": ["20240101_init"]}, 422, "migrations.0: Not a valid migration"),
        ({"target": "staging", "surprise": True, "migrations": MIGRATIONS}, 422, "surprise"),
        ({"target": "staging"}, 422, "none stored"),
        ({"target": "staging", "lock_provider": "mysql", "migrations": MIGRATIONS}, 422, "P3019"),
        ({"target": "staging", "prisma_version": 8, "migrations": MIGRATIONS}, 422, "Prisma 8 (a database marker and migration.ts/ops.json) is not supported"),
        ({"target": "staging", "prisma_version": "7", "migrations": MIGRATIONS}, 422, "prisma_version"),
    ],
)
def test_bad_bodies_get_a_problem_and_change_nothing(client, enqueued, scratch_db, body, status, detail):
    response = post(client, body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and detail in problem["detail"]
    assert enqueued == []
    assert scratch_db.query("SELECT count(*) FROM job") == [(0,)]
    assert scratch_db.query("SELECT count(*) FROM bundle") == [(0,)]


def test_malformed_json_is_400(client, enqueued):
    response = client.post("/v1/deploys", data="{not json", headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert enqueued == []


def test_a_bundle_over_the_limit_is_413(client, enqueued, scratch_db):
    huge = [{"name": "20240101_big", "sql": "-- " + "x" * 200_000}]
    response = post(client, {"target": "staging", "migrations": huge})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert enqueued == [] and scratch_db.query("SELECT count(*) FROM job") == [(0,)]


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": "Basic Y2k6eA=="}, 401), (auth("reader-token"), 403)],
)
def test_tokens_and_scopes(client, enqueued, headers, status):
    response = client.post("/v1/deploys", json={"target": "staging", "migrations": MIGRATIONS}, headers=headers)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert enqueued == []


@pytest.mark.parametrize("field", ["commit", "deployment_id"])
def test_nul_characters_are_refused_not_stored(client, enqueued, scratch_db, field):
    response = post(client, {"target": "staging", field: "a\x00b", "migrations": MIGRATIONS})
    assert response.status_code == 422 and field in response.get_json()["detail"]
    nul_sql = post(client, {"target": "staging", "migrations": [{"name": "1_a", "sql": "SELECT 1;\x00"}]})
    assert nul_sql.status_code == 422
    assert enqueued == [] and scratch_db.query("SELECT count(*) FROM job") == [(0,)]


def test_an_idempotency_key_reused_for_another_request_is_422(client, enqueued):
    first = post(client, {"target": "staging", "migrations": MIGRATIONS}, **{"Idempotency-Key": "build-7"})
    other = post(client, {"target": "staging", "phase": "failed", "migrations": MIGRATIONS}, **{"Idempotency-Key": "build-7"})
    assert first.status_code == 202 and other.status_code == 422
    assert "build-7" in other.get_json()["detail"]
    assert post(client, {"target": "staging"}, **{"Idempotency-Key": "bad\x01key"}).status_code == 400


def test_401_says_how_to_authenticate_and_405_what_is_allowed(client, app):
    missing = client.post("/v1/deploys", json={})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.get("/v1/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer error=")
    # An undocumented method is outside the contract by definition: ask without the contract check.
    not_allowed = FlaskClient(app, app.response_class).delete("/v1/deploys", headers=auth())
    assert not_allowed.status_code == 405 and "POST" in not_allowed.headers["Allow"]
    assert not_allowed.mimetype == "application/problem+json"


def test_a_broker_that_is_down_fails_no_deploy_and_the_reconciler_sends_the_jobs_later(scratch_db, config, caplog):
    def broker_down(*job_ids):
        raise redis.ConnectionError("Error 111 connecting to redis://:hunter2@broker:6379. Connection refused.")

    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, config, enqueue=broker_down)
    app.test_client_class = ContractClient
    try:
        with caplog.at_level(logging.WARNING):
            inline = post(app.test_client(), {"target": "staging", "migrations": MIGRATIONS})
            reused = post(app.test_client(), {"target": "staging", "phase": "post"})  # the last stored bundle
    finally:
        app.extensions["deploy_gate"].close()
    assert inline.status_code == reused.status_code == 202
    # Both jobs are stored, queued: the reconciler re-enqueues jobs queued for too long.
    assert scratch_db.query("SELECT id::text, state FROM job ORDER BY created_at") == [(inline.get_json()["id"], "queued"), (reused.get_json()["id"], "queued")]
    assert caplog.text.count("ConnectionError") == 2 and "hunter2" not in caplog.text


def test_the_prisma_version_a_build_names_is_kept_with_its_job(client, enqueued):
    """`gate` sends the project's Prisma major version; the job follows it (service.prisma.execution)."""
    job = post(client, {"target": "staging", "apply": True, "prisma_version": 7, "migrations": MIGRATIONS}).get_json()
    assert job["params"] == {"phase": "pre", "apply": True, "prisma_version": 7}
    unnamed = post(client, {"target": "staging", "prisma_version": None, "migrations": MIGRATIONS}).get_json()
    assert "prisma_version" not in unnamed["params"]
