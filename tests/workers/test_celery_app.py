"""The Celery app: its broker settings by the broker's kind, and its logs, one JSON object per line naming the job."""

import json
import os
import signal

import pytest

from service.config.settings import Settings
from service.http import create_app
from service.log_config import logging_config
from tests.contract import ContractClient
from tests.workers.processes import start_worker
from tests.workers.test_tasks import AUTH, MIGRATIONS, ROOT, wait_for_verdict
from workers.celery_app import make_celery, transport_options


def settings(broker_url, **extra):
    return Settings(database_url="postgresql://db/x", broker_url=broker_url, config_file=None, **{"visibility_timeout_seconds": 600, **extra})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://r:6380/0?ssl_cert_reqs=required", "sentinel://s1:26379;sentinel://s2:26379"])
def test_redis_waits_out_a_visibility_timeout_and_sweeps_every_half_of_it(url):
    assert transport_options(settings(url)) == {"visibility_timeout": 600, "unacked_restore_interval": 60, "unacked_restore_throttle": 1}
    assert transport_options(settings(url, visibility_timeout_seconds=30))["unacked_restore_interval"] == 15


def test_sqs_has_its_visibility_timeout_and_rabbitmq_none():
    assert transport_options(settings("sqs://")) == {"visibility_timeout": 600}
    assert transport_options(settings("amqp://guest:guest@127.0.0.1:5672//")) == {}


def test_the_settings_options_win_and_reach_the_app():
    configured = settings("sentinel://s1:26379", broker_transport_options={"master_name": "main", "visibility_timeout": 900})
    app = make_celery(configured, set_as_current=False)
    assert app.conf.broker_transport_options == {
        "visibility_timeout": 900,
        "unacked_restore_interval": 60,
        "unacked_restore_throttle": 1,
        "master_name": "main",
    }
    assert app.conf.broker_url == "sentinel://s1:26379" and app.conf.task_default_queue == "deploy_gate"


def test_a_worker_logs_json_lines_and_every_line_of_a_job_names_its_job_kind_target_and_step(service_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOY_GATE_LOG_LEVEL", "info")
    app = create_app(Settings.from_env())
    app.test_client_class = ContractClient
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        # --loglevel=warning is the worker's flag, not used: DEPLOY_GATE_LOG_LEVEL is the one level.
        worker = start_worker("--loglevel=warning", stderr=output)
    try:
        api = app.test_client()
        response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH)
        job = wait_for_verdict(api, response.get_json()["id"], seconds=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        app.extensions["deploy_gate"].pool.close()
    assert job["verdict"] == "proceed", job
    text = log.read_text()
    # Celery warns of a worker run as root (as tests are) before it sets up logging: from then on, JSON only.
    lines = [json.loads(line) for line in text[text.index("\n{") + 1 :].splitlines()]
    assert any(line["logger"].startswith("celery") and line["level"] == "info" for line in lines), "Celery's own lines, at INFO"
    ours = [line for line in lines if line.get("job_id") == job["id"]]
    steps = {line["step"] for line in ours if line["event"] == "step finished"}
    assert {"status", "apply:20240101_patients", "apply:20240102_visits", "postcondition"} <= steps, steps
    assert all((line["kind"], line["target"]) == ("deploy", "staging") for line in ours)
    # The task's lines around the job (received, succeeded) are Celery's, outside the job's context.
    assert all("job_id" not in line for line in lines if line["logger"] == "celery.worker.strategy")


def test_the_worker_and_gunicorn_apply_one_logging_configuration():
    import runpy

    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gunicorn["logconfig_dict"] == logging_config(Settings.from_env().log_level)
