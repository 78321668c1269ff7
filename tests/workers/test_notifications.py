"""Notifications through a real Celery worker on Redis to a real HTTP receiver: retried with backoff."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from service.config import Settings
from service.jobs.states import JobKind, JobState
from service.notifications import verify_signature
from tests.service.test_notifications import SECRET, Receiver, make_job
from workers import celery_app, notifications, state

PUBLIC_URL = "https://gate.example.com"
BACKOFF = 0.2


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def notifying_worker(receiver, celery_session_app, celery_session_worker, tmp_path, monkeypatch):
    """The worker's configuration sends notifications to the receiver; `notify` publishes to the test broker."""
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text(
        f'[notifications]\nurl_env = "TEST_HOOK_URL"\nsecret_env = "TEST_HOOK_SECRET"\npublic_url = "{PUBLIC_URL}"\n\n'
        '[targets.staging]\ndatabase_url_env = "TEST_STAGING_URL"\n'
    )
    monkeypatch.setenv("DEPLOY_GATE_CONFIG", str(config_file))
    monkeypatch.setenv("TEST_HOOK_URL", receiver.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_STAGING_URL", "postgresql://app:hunter2@127.0.0.1:5432/app")
    # The worker runs in this process (thread pool): small backoff for the tests, same code path.
    monkeypatch.setattr(notifications, "RETRY_BACKOFF_SECONDS", BACKOFF)
    monkeypatch.setattr(celery_app, "celery", celery_session_app)
    state.reset()
    yield receiver
    state.reset()


def test_delivered_after_two_server_errors_with_backoff_and_one_delivery_id(notifying_worker, caplog):
    caplog.set_level(logging.INFO)
    receiver = notifying_worker
    receiver.answer(500, 500)
    job = make_job()

    started = time.monotonic()
    notifications.notify("verdict_blocked", job)
    assert time.monotonic() - started < 1, "notify only publishes"

    first, second, third = receiver.wait_for(3)
    for request in (first, second, third):
        assert verify_signature(SECRET, request.headers["X-Deploy-Gate-Timestamp"], request.body, request.headers["X-Deploy-Gate-Signature"])
    assert first.headers["X-Deploy-Gate-Delivery"] == second.headers["X-Deploy-Gate-Delivery"] == third.headers["Idempotency-Key"]
    assert first.body == third.body
    message = third.json()
    assert message["deploy_gate"]["job_id"] == job.id and message["deploy_gate"]["reasons"] == job.reasons
    assert message["deploy_gate"]["links"]["report"] == f"{PUBLIC_URL}/v1/jobs/{job.id}/report"
    # Equal jitter: retry n waits at least half of BACKOFF * 2**n.
    assert second.at - first.at >= BACKOFF / 2
    assert third.at - second.at >= BACKOFF

    wait_for_log(caplog, "notification_delivered")
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("notifications") and r.getMessage().startswith("{")]
    assert [e["event"] for e in events if e["event"] != "notification_enqueued"] == ["notification_retry", "notification_retry", "notification_delivered"]
    assert {e["attempt"] for e in events if e["event"] == "notification_delivered"} == {3}
    assert receiver.url not in caplog.text and SECRET not in caplog.text and "hunter2" not in caplog.text


def test_a_client_error_is_given_up_at_once(notifying_worker, caplog):
    caplog.set_level(logging.INFO)
    receiver = notifying_worker
    receiver.default_status = 400
    notifications.notify("approval_needed", make_job(kind=JobKind.RECOVER, state=JobState.WAITING_APPROVAL, verdict=None), plan="restore a snapshot")
    [request] = receiver.wait_for(1)
    assert request.json()["deploy_gate"]["details"] == {"plan": "restore a snapshot"}
    wait_for_log(caplog, "notification_rejected")
    time.sleep(BACKOFF * 3)
    assert len(receiver.requests) == 1
    assert receiver.url not in caplog.text


def test_gives_up_after_the_last_retry(notifying_worker, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(notifications, "MAX_RETRIES", 1)
    receiver = notifying_worker
    receiver.default_status = 503
    notifications.notify("restore_failed", make_job(kind=JobKind.RESTORE, verdict=None, reasons=[]), error="InvalidDBSnapshotState")
    receiver.wait_for(2)
    wait_for_log(caplog, "notification_gave_up")
    time.sleep(BACKOFF * 3)
    assert len(receiver.requests) == 2


def test_a_broker_that_is_down_never_reaches_the_job(monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text('[notifications]\nurl_env = "TEST_HOOK_URL"\nsecret_env = "TEST_HOOK_SECRET"\n\n[targets.staging]\ndatabase_url_env = "TEST_STAGING_URL"\n')
    monkeypatch.setenv("DEPLOY_GATE_CONFIG", str(config_file))
    monkeypatch.setenv("TEST_HOOK_URL", "https://hooks.example.com/T0/B0/hook-token")
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_STAGING_URL", "postgresql://app@127.0.0.1:5432/app")
    down = celery_app.make_celery(Settings("postgresql://app@127.0.0.1/app", "redis://127.0.0.1:1/0", Path(config_file)))
    monkeypatch.setattr(celery_app, "celery", down)
    state.reset()
    try:
        started = time.monotonic()
        notifications.notify("verdict_blocked", make_job())
        assert time.monotonic() - started < 5
    finally:
        down.close()
        state.reset()
    [record] = [r for r in caplog.records if "notification_not_enqueued" in r.getMessage()]
    assert json.loads(record.getMessage())["error"] == "OperationalError"
    assert "hook-token" not in caplog.text and SECRET not in caplog.text


def wait_for_log(caplog, event: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(f'"event": "{event}"' in record.getMessage() for record in caplog.records):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {event} log line")
