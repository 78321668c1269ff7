"""Readiness and the queue's depth come from the broker through kombu (Celery's client), whichever it is."""

import dataclasses
import os
import re
import uuid

from service.config.settings import Settings
from service.http import create_app
from service.jobs.states import JobKind, JobState, Verdict
from service.store import repository
from tests.contract import ContractClient
from tests.service.http.conftest import auth
from tests.store import migrated_store, record_live_worker

# Two test runs on one machine (a developer's and CI's) must not count each other's messages.
REDIS_DB = int(os.environ.get("DEPLOY_GATE_TEST_REDIS_DB", "14"))
MIGRATIONS = [{"name": "20240101_init", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}]


def make_app(scratch_db, config, broker_url):
    app = create_app(Settings(database_url=migrated_store(scratch_db), broker_url=broker_url, config_file=None), config)
    app.test_client_class = ContractClient
    return app


def test_metrics_report_the_tasks_waiting_in_the_broker(scratch_db, config):
    app = make_app(scratch_db, config, f"redis://127.0.0.1:6379/{REDIS_DB}")
    broker = app.extensions["deploy_gate"].broker
    # A queue of this test's own (no worker reads it), so the depth counts only what this test sent.
    broker.queue = broker.app.conf.task_default_queue = f"dg-test-{uuid.uuid4().hex[:8]}"
    client = app.test_client()
    try:
        assert "deploy_gate_queue_depth 0.0" in client.get("/metrics", headers=auth()).get_data(as_text=True)
        for commit in ("a", "b"):
            posted = client.post("/v1/deploys", json={"target": "staging", "commit": commit, "migrations": MIGRATIONS}, headers=auth())
            assert posted.status_code == 202
        assert "deploy_gate_queue_depth 2.0" in client.get("/metrics", headers=auth()).get_data(as_text=True)
        assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "none alive"}
        record_live_worker(scratch_db)
        assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
    finally:
        with broker.app.connection_for_write() as connection:
            connection.default_channel.queue_purge(broker.queue)
        app.extensions["deploy_gate"].close()


def test_a_broker_that_does_not_answer_makes_the_service_not_ready_and_fails_no_deploy(scratch_db, config):
    app = make_app(scratch_db, config, "amqp://guest:hunter2@127.0.0.1:9//")
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "ok"
        assert ready.get_json()["checks"]["broker"] not in ("ok", "") and "hunter2" not in ready.get_data(as_text=True)
        assert client.get("/metrics", headers=auth()).status_code == 200
        posted = client.post("/v1/deploys", json={"target": "staging", "migrations": MIGRATIONS}, headers=auth())
        assert posted.status_code == 202  # stored, queued: the reconciler sends it once the broker is back
    finally:
        app.extensions["deploy_gate"].close()
    assert scratch_db.query("SELECT state FROM job") == [("queued",)]


def test_the_settings_broker_is_the_one_the_service_sends_to(scratch_db, config):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="amqp://guest:guest@127.0.0.1:5672//", config_file=None)
    app = create_app(dataclasses.replace(settings, broker_transport_options={"confirm_publish": True}), config)
    try:
        broker_app = app.extensions["deploy_gate"].broker.app
        assert broker_app.conf.broker_url == settings.broker_url and broker_app.conf.broker_transport_options == {"confirm_publish": True}
    finally:
        app.extensions["deploy_gate"].close()


def test_no_fresh_heartbeat_makes_the_service_not_ready(scratch_db, config):
    app = make_app(scratch_db, config, f"redis://127.0.0.1:6379/{REDIS_DB}")
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "none alive"}
        assert "heartbeat" in ready.get_json()["detail"]
        record_live_worker(scratch_db)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.get_json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok", "workers": "ok"}}
        assert "deploy_gate_workers_alive 1.0" in client.get("/metrics", headers=auth()).get_data(as_text=True)
        # A heartbeat older than the stale age (30 s by default) is a dead worker.
        scratch_db.query("UPDATE worker SET heartbeat_at = now() - interval '31 seconds'")
        assert client.get("/readyz").get_json()["checks"]["workers"] == "none alive"
        assert "deploy_gate_workers_alive 0.0" in client.get("/metrics", headers=auth()).get_data(as_text=True)
    finally:
        app.extensions["deploy_gate"].close()


def _sample(metrics, name):
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name} not in:\n{metrics}"
    return float(match.group(1))


def test_metrics_say_how_long_jobs_wait_and_how_many_ended_on_an_unreachable_target(scratch_db, config):
    app = make_app(scratch_db, config, f"redis://127.0.0.1:6379/{REDIS_DB}")
    client = app.test_client()
    try:
        metrics = client.get("/metrics", headers=auth()).get_data(as_text=True)
        assert _sample(metrics, "deploy_gate_oldest_queued_job_seconds") == 0.0
        assert _sample(metrics, "deploy_gate_oldest_approval_wait_seconds") == 0.0
        assert _sample(metrics, "deploy_gate_jobs_blocked_unreachable") == 0.0
        with scratch_db.connect() as store:
            queued = [repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")[0] for _ in range(2)]
            waiting, _ = repository.create_job(store, kind=JobKind.RESTORE, target="staging", requested_by="ci")
            repository.transition(store, waiting.id, JobState.RUNNING)
            repository.transition(store, waiting.id, JobState.WAITING_APPROVAL, reasons=["a restore needs a person"])
            for reasons in (["target unreachable: connection refused (attempt 20)"], ["migration x failed"]):
                ended, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
                repository.transition(store, ended.id, JobState.RUNNING)
                repository.transition(store, ended.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=reasons)
            # The oldest queued job was created 5 minutes ago, the approval asked for 2 minutes ago.
            store.execute("UPDATE job SET created_at = now() - interval '5 minutes' WHERE id = %s", (queued[0].id,))
            store.execute("UPDATE job SET updated_at = now() - interval '2 minutes' WHERE id = %s", (waiting.id,))
        metrics = client.get("/metrics", headers=auth()).get_data(as_text=True)
        assert 300 <= _sample(metrics, "deploy_gate_oldest_queued_job_seconds") < 310
        assert 120 <= _sample(metrics, "deploy_gate_oldest_approval_wait_seconds") < 130
        assert _sample(metrics, "deploy_gate_jobs_blocked_unreachable") == 1.0
    finally:
        app.extensions["deploy_gate"].close()
