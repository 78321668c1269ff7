"""A real Celery worker (celery.contrib.pytest) on the real Redis broker, real PostgreSQL stores."""

import os
import uuid
from pathlib import Path

import pytest

from service.config.records import hash_token
from service.config.settings import Settings
from service.http import create_app
from tests.broker import sending_through
from tests.contract import ContractClient
from tests.store import migrated_store
from workers import state

# Two test runs on one machine (a developer's and CI's) must not take each other's messages.
REDIS_DB = int(os.environ.get("DEPLOY_GATE_TEST_REDIS_DB", "14"))


@pytest.fixture(scope="session")
def celery_config():
    return {
        "broker_url": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "broker_connection_retry_on_startup": True,
    }


@pytest.fixture(scope="session")
def celery_includes():
    return ["workers.tasks", "workers.notifications", "workers.integrations"]


@pytest.fixture(scope="session")
def celery_worker_pool():
    return "threads"


@pytest.fixture
def service_env(scratch_db, target_db, tmp_path, monkeypatch):
    """The environment a worker and the API read: store, broker, targets file, target URL."""
    variable = f"TARGET_URL_{uuid.uuid4().hex[:8].upper()}"
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text(
        f'[tokens.ci]\nsha256 = "{hash_token("ci-token")}"\nscopes = ["deploy", "read"]\n\n'
        f'[targets.staging]\ndatabase_url_env = "{variable}"\n\n[targets.staging.policy]\nlock_timeout_ms = 2000\n'
    )
    monkeypatch.setenv(variable, target_db.url)
    monkeypatch.setenv("DEPLOY_GATE_DATABASE_URL", migrated_store(scratch_db))
    monkeypatch.setenv("DEPLOY_GATE_CONFIG", str(config_file))
    monkeypatch.setenv("DEPLOY_GATE_BROKER_URL", f"redis://127.0.0.1:6379/{REDIS_DB}")
    state.reset()
    yield
    state.reset()


@pytest.fixture
def api(service_env, celery_session_app):
    app = create_app(Settings.from_env(), enqueue=sending_through(celery_session_app))
    # Every response the end-to-end tests receive is checked against openapi.yaml.
    app.test_client_class = ContractClient
    yield app.test_client()
    app.extensions["deploy_gate"].pool.close()


@pytest.fixture(scope="session")
def celery_worker_parameters():
    # The ping check reads a task result; deploy-gate keeps no results (the store has the state).
    return {"perform_ping_check": False, "queues": ("celery",)}


def reconfigure_staging(monkeypatch, database_url, **policy):
    """Point service_env's staging target at `database_url`, with extra policy keys (a short
    `unreachable_timeout_seconds`, say); the API and the worker read it afresh."""
    config_file = Path(os.environ["DEPLOY_GATE_CONFIG"])
    text = config_file.read_text()
    variable = text.split('database_url_env = "', 1)[1].split('"', 1)[0]
    monkeypatch.setenv(variable, database_url)
    extra = "".join(f"{key} = {value!r}\n" for key, value in policy.items())
    config_file.write_text(text.replace("[targets.staging.policy]\n", "[targets.staging.policy]\n" + extra))
    state.reset()
