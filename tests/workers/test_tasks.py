"""End to end: the API stores and enqueues, a real worker runs the job, a long-poll sees the verdict."""

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from service.config.settings import Settings
from service.http import create_app
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.contract import ContractClient
from tests.service.prisma.history_helpers import history_rows
from tests.workers.processes import start_worker
from workers import state
from workers.tasks import run_job_task

ROOT = Path(__file__).resolve().parents[2]

AUTH = {"Authorization": "Bearer ci-token"}
MIGRATIONS = [
    {"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'},
    {"name": "20240102_visits", "sql": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);'},
]


def wait_for_verdict(api, job_id, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}?wait=5", headers=AUTH).get_json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            return job
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_posted_deploy_is_applied_by_the_worker(api, celery_session_worker, target_db):
    response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
    assert response.status_code == 202
    job = wait_for_verdict(api, response.get_json()["id"])
    assert (job["state"], job["verdict"]) == ("succeeded", "proceed"), job
    steps = [e["step"] for e in job["events"] if e["kind"] == "step_finished"]
    assert "apply:20240102_visits" in steps
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == ["20240101_patients", "20240102_visits"]


def test_failing_migration_is_recovered_and_the_deploy_blocked_with_its_sqlstate(api, celery_session_worker):
    failing = MIGRATIONS + [{"name": "20240103_divide", "sql": 'CREATE TABLE "Ratio" ("id" INT);\nSELECT 1 / 0;'}]
    response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": failing}, headers=AUTH)
    job = wait_for_verdict(api, response.get_json()["id"])
    assert job["verdict"] == "blocked"
    assert any("22012" in reason for reason in job["reasons"]), job["reasons"]
    # The worker ran the recover job the failed apply started; its verdict is the deploy's.
    recover_id = next(e["data"]["job"] for e in job["events"] if e["step"] == "recover" and e["kind"] == "step_finished")
    recovered = wait_for_verdict(api, recover_id)
    assert recovered["kind"] == "recover" and recovered["facts"]["decide:1"]["action"] == "mark_rolled_back"
    assert job["reasons"] == [f"recover job {recover_id}: {reason}" for reason in recovered["reasons"]]


def test_check_job_runs_on_the_worker(api, celery_session_worker):
    response = api.post("/v1/deploys", json={"target": "staging", "phase": "post", "migrations": MIGRATIONS}, headers=AUTH)
    job = wait_for_verdict(api, response.get_json()["id"])
    assert job["kind"] == "check" and job["verdict"] == "blocked"
    assert job["reasons"] == ["not applied: 20240101_patients, 20240102_visits"]


def test_the_default_enqueue_reaches_a_worker_started_as_make_run_starts_it(service_env, scratch_db, target_db):
    """The app's own enqueue, a `celery -A workers.celery_app worker -Q deploy_gate` process: applied."""
    app = create_app(Settings.from_env())
    app.test_client_class = ContractClient
    worker = start_worker()
    try:
        api = app.test_client()
        response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
        assert response.status_code == 202
        job = wait_for_verdict(api, response.get_json()["id"], seconds=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        app.extensions["deploy_gate"].pool.close()
    assert (job["state"], job["verdict"]) == ("succeeded", "proceed"), job
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == ["20240101_patients", "20240102_visits"]


def test_a_message_for_an_unknown_job_is_dropped_and_the_worker_goes_on(api, celery_session_app, celery_session_worker):
    stray = celery_session_app.send_task("deploy_gate.run_job", args=["00000000-0000-4000-8000-000000000000"])
    assert stray.id
    response = api.post("/v1/deploys", json={"target": "staging", "phase": "post", "migrations": MIGRATIONS}, headers=AUTH)
    job = wait_for_verdict(api, response.get_json()["id"])
    assert job["verdict"] == "blocked"  # the worker is alive and ran the next job
    # Run in this process, the task says what it did with the stray message: dropped, not retried.
    assert run_job_task.apply(args=["00000000-0000-4000-8000-000000000000"]).get() == "unknown"


def test_a_same_named_index_on_another_column_never_lets_the_deploy_proceed(api, celery_session_worker, target_db):
    first = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
    assert wait_for_verdict(api, first.get_json()["id"])["verdict"] == "proceed"
    target_db.query('CREATE INDEX "Visit_patient_idx" ON "Visit"("id")')
    adds_index = MIGRATIONS + [
        {"name": "20240103_visit_patient", "sql": 'ALTER TABLE "Visit" ADD COLUMN "patientId" INT;\nCREATE INDEX "Visit_patient_idx" ON "Visit"("patientId");'},
    ]
    job = wait_for_verdict(api, api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": adds_index}, headers=AUTH).get_json()["id"])

    assert job["verdict"] == "blocked", job["reasons"]
    recover_id = next(e["data"]["job"] for e in job["events"] if e["step"] == "recover" and e["kind"] == "step_finished")
    recovered = wait_for_verdict(api, recover_id)
    assert recovered["facts"]["decide:1"]["action"] != "mark_applied"
    with target_db.connect() as conn:
        assert [row["finished_at"] for row in history_rows(conn) if row["migration_name"] == "20240103_visit_patient"] == [None]


def test_a_deploy_that_leaves_an_invalid_index_waits_for_a_person_at_the_postcondition(api, celery_session_worker, target_db):
    first = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
    assert wait_for_verdict(api, first.get_json()["id"])["verdict"] == "proceed"
    target_db.query('INSERT INTO "Visit" ("id") VALUES (1)')
    target_db.query('ALTER TABLE "Visit" ADD COLUMN "code" INT')
    target_db.query('UPDATE "Visit" SET "code" = 7')
    target_db.query('INSERT INTO "Visit" ("id", "code") VALUES (2, 7)')
    with pytest.raises(psycopg.errors.UniqueViolation):
        target_db.query('CREATE UNIQUE INDEX CONCURRENTLY "Visit_code_key" ON "Visit"("code")')
    guarded = MIGRATIONS + [{"name": "20240103_visit_code", "sql": 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Visit_code_key" ON "Visit"("code");'}]
    job_id = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": guarded}, headers=AUTH).get_json()["id"]
    deadline = time.monotonic() + 30
    while (job := api.get(f"/v1/jobs/{job_id}?wait=5", headers=AUTH).get_json())["state"] != "waiting_approval":
        assert job["state"] not in ("succeeded", "failed", "canceled") and time.monotonic() < deadline, job

    assert job["verdict"] is None
    assert any("Visit_code_key" in reason and "INVALID" in reason for reason in job["reasons"]), job["reasons"]
    assert job["facts"]["postcondition"]["problems"] and job["facts"]["approval"]["step"] == "postcondition"


def test_an_invalid_index_left_by_a_timed_out_concurrent_build_is_rebuilt_before_proceed(api, celery_session_worker, target_db, scratch_db):
    first = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
    assert wait_for_verdict(api, first.get_json()["id"])["verdict"] == "proceed"
    # A writer's open transaction: the concurrent build waits for it past lock_timeout, fails
    # (55P03), and leaves the index INVALID. The recover job waits it out, then retries.
    writer = psycopg.connect(target_db.conninfo, application_name="order-writer")
    writer.execute('INSERT INTO "Visit" DEFAULT VALUES')
    guarded = MIGRATIONS + [{"name": "20240103_visit_idx", "sql": 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Visit_id_idx" ON "Visit"("id");'}]
    job_id = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": guarded}, headers=AUTH).get_json()["id"]
    try:
        with scratch_db.connect() as store:

            def waiting_on_the_writer():
                steps = repository.finished_steps(store, job_id)
                recover_id = steps.get("recover", {}).get("job")
                return recover_id is not None and "wait_for_blockers:1:1" in repository.finished_steps(store, recover_id)

            deadline = time.monotonic() + 30
            while not waiting_on_the_writer():
                assert time.monotonic() < deadline, "the recover job never waited for the writer"
                time.sleep(0.05)
    finally:
        writer.rollback()
        writer.close()
    job = wait_for_verdict(api, job_id)

    assert job["verdict"] == "proceed", job["reasons"]
    recover_id = next(e["data"]["job"] for e in job["events"] if e["step"] == "recover" and e["kind"] == "step_finished")
    recovered = wait_for_verdict(api, recover_id)
    assert recovered["facts"]["facts:1"]["facts"]["invalid_indexes"] == ["public.Visit_id_idx"]
    assert recovered["facts"]["act:1:drop_invalid_indexes"] == {"dropped": ["public.Visit_id_idx"]}
    assert recovered["facts"]["postcondition"]["problems"] == []
    assert target_db.query("SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'public.\"Visit_id_idx\"'::regclass") == [(True, True)]


def test_an_automatic_rollback_on_the_worker_never_drops_a_table_that_was_there_with_data(api, celery_session_worker, target_db, monkeypatch):
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    monkeypatch.setenv("SHADOW_URL_FOR_STAGING", ADMIN_URL)
    config_file.write_text(
        config_file.read_text()
        .replace("[targets.staging.policy]\n", "[targets.staging.policy]\nautomatic_rollback = true\n")
        .replace("\n\n[targets.staging.policy]", '\nshadow_url_env = "SHADOW_URL_FOR_STAGING"\n\n[targets.staging.policy]')
    )
    state.reset()
    first = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
    assert wait_for_verdict(api, first.get_json()["id"])["verdict"] == "proceed"
    # Made by hand on the target, with rows: not in the history, so not in the shadow's replay either.
    target_db.query('CREATE TABLE "Legacy" ("id" INT, "note" TEXT)')
    target_db.query("""INSERT INTO "Legacy" VALUES (1, 'kept'), (2, 'kept')""")
    billing = MIGRATIONS + [{"name": "20240103_billing", "sql": 'BEGIN;\nCREATE TABLE "Invoice" ("id" INT);\nCOMMIT;\nCREATE TABLE "Legacy" ("id" INT);'}]
    job_id = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": billing}, headers=AUTH).get_json()["id"]
    deadline = time.monotonic() + 60
    while True:
        job = api.get(f"/v1/jobs/{job_id}?wait=5", headers=AUTH).get_json()
        recover_id = next((e["data"]["job"] for e in job["events"] if e["step"] == "recover" and e["kind"] == "step_finished"), None)
        recovered = api.get(f"/v1/jobs/{recover_id}", headers=AUTH).get_json() if recover_id else None
        if recovered and recovered["state"] in ("waiting_approval", "succeeded"):
            break
        assert time.monotonic() < deadline, job

    assert recovered["facts"]["facts:1"]["facts"]["shapes_verified"] is True
    assert recovered["facts"]["facts:1"]["rollback"]["sql"] == 'DROP TABLE IF EXISTS "Invoice";'
    assert recovered["state"] == "waiting_approval" and "Legacy" not in recovered["facts"]["approval"]["rollback"]["sql"]
    assert target_db.query('SELECT count(*) FROM "Legacy"') == [(2,)]
