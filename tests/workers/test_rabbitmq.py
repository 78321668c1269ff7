"""Broker independence: a deploy through the API to `proceed` on RabbitMQ, with a real worker started
as `make run` starts it. Each test gets a vhost of its own, so concurrent runs never share a queue."""

import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import kombu
import pytest

from service.config.settings import Settings
from service.http import create_app
from tests.contract import ContractClient
from tests.service.prisma.history_helpers import history_rows
from tests.workers.processes import start_worker
from tests.workers.test_tasks import AUTH, MIGRATIONS, wait_for_verdict

ROOT = Path(__file__).resolve().parents[2]
RABBITMQ = os.environ.get("DEPLOY_GATE_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmqctl(*args: str) -> None:
    command = ["rabbitmqctl", "-q", *args]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def unavailable() -> str | None:
    """Why RabbitMQ cannot be used here, or None."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        with kombu.Connection(f"{RABBITMQ}//", connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=0)
    except Exception as error:  # noqa: BLE001 - any failure: not reachable
        return f"RabbitMQ is not reachable at 127.0.0.1:5672 ({type(error).__name__})"
    return None


@pytest.fixture
def rabbitmq_vhost():
    reason = unavailable()
    if reason:
        if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA"):
            pytest.fail(f"{reason}; `make test` starts it (scripts/ensure-services.sh)")
        pytest.skip(f"{reason}; `make test` installs and starts it")
    vhost = f"dg-test-{uuid.uuid4().hex[:8]}"
    user = RABBITMQ.split("://", 1)[1].split(":", 1)[0]
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{RABBITMQ}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def test_a_deploy_on_rabbitmq_reaches_proceed(service_env, rabbitmq_vhost, monkeypatch, target_db):
    monkeypatch.setenv("DEPLOY_GATE_BROKER_URL", rabbitmq_vhost)
    app = create_app(Settings.from_env())
    app.test_client_class = ContractClient
    api = app.test_client()
    worker = None
    try:
        # No worker yet: the store and the broker answer, and readiness says nobody would take a job.
        assert api.get("/readyz").get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "none alive"}
        # Sent before any worker has declared the queue: Celery's client declares it, so nothing is lost.
        response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
        assert response.status_code == 202
        assert "deploy_gate_queue_depth 1.0" in api.get("/metrics", headers=AUTH).get_data(as_text=True)
        worker = start_worker()
        job = wait_for_verdict(api, response.get_json()["id"], seconds=60)
        assert "deploy_gate_queue_depth 0.0" in api.get("/metrics", headers=AUTH).get_data(as_text=True)
        # The worker that ran the job records its heartbeat: ready.
        assert api.get("/readyz").get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        app.extensions["deploy_gate"].close()
    assert (job["state"], job["verdict"]) == ("succeeded", "proceed"), job
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == ["20240101_patients", "20240102_visits"]
