"""The worker started as `make run` starts it logs one JSON object per line, and a job's lines name the job."""

import json
import os
import signal
import subprocess

from service.config import Settings
from service.http import create_app
from service.log_config import logging_config
from tests.contract import ContractClient
from tests.workers.test_tasks import AUTH, CELERY, MIGRATIONS, ROOT, wait_for_verdict


def test_a_worker_logs_json_lines_and_every_line_of_a_job_names_its_job_kind_target_and_step(service_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOY_GATE_LOG_LEVEL", "info")
    app = create_app(Settings.from_env())
    app.test_client_class = ContractClient
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            # --loglevel=warning is the worker's flag, not used: DEPLOY_GATE_LOG_LEVEL is the one level.
            [CELERY, "-A", "workers.celery_app", "worker", "--pool=solo", "--loglevel=warning", "-Q", "deploy_gate",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            # stdout has Celery's banner, for people; logs go to stderr.
            cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=output, start_new_session=True,
        )
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
    lines = [json.loads(line) for line in text[text.index("\n{") + 1:].splitlines()]
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
