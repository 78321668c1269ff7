"""Notifications through a real Celery worker on Redis to a real HTTP receiver: retried with backoff,
and the outcome journaled on the job in a real store, after the job has ended."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC
from pathlib import Path

import pytest

from service.config.settings import Settings
from service.jobs.states import JobKind, JobState, Verdict
from service.notifications import notification_event, verify_signature
from service.reports.build import build_report
from service.store import repository
from tests.logs import logged_lines, logged_text
from tests.service.test_notifications import SECRET, Receiver, make_job
from tests.workers.test_tasks import AUTH, MIGRATIONS, wait_for_verdict
from workers import celery_app, notifications, state

PUBLIC_URL = "https://gate.example.com"
BACKOFF = 0.2


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def store(scratch_db, monkeypatch):
    """The store the worker journals deliveries in."""
    monkeypatch.setenv("DEPLOY_GATE_DATABASE_URL", scratch_db.url)
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


def hook_environment(monkeypatch, receiver, celery_session_app) -> None:
    """The webhook's URL and key, a small backoff (same code path), and `notify` publishing to the test broker."""
    monkeypatch.setenv("TEST_HOOK_URL", receiver.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    # The worker runs in this process (thread pool): small backoff for the tests, same code path.
    monkeypatch.setattr(notifications, "RETRY_BACKOFF_SECONDS", BACKOFF)
    monkeypatch.setattr(celery_app, "celery", celery_session_app)


@pytest.fixture
def notifying_worker(receiver, store, celery_session_app, celery_session_worker, tmp_path, monkeypatch):
    """The worker's configuration sends notifications to the receiver, except target `quiet`'s."""
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text(
        f'[notifications]\nurl_env = "TEST_HOOK_URL"\nsecret_env = "TEST_HOOK_SECRET"\npublic_url = "{PUBLIC_URL}"\n\n'
        '[targets.staging]\ndatabase_url_env = "TEST_STAGING_URL"\n\n'
        '[targets.quiet]\ndatabase_url_env = "TEST_STAGING_URL"\n\n[targets.quiet.notifications]\nevents = []\n'
    )
    monkeypatch.setenv("DEPLOY_GATE_CONFIG", str(config_file))
    monkeypatch.setenv("TEST_STAGING_URL", "postgresql://app:hunter2@127.0.0.1:5432/app")
    hook_environment(monkeypatch, receiver, celery_session_app)
    state.reset()
    yield receiver
    state.reset()


def ended_job(store, *, kind=JobKind.RECOVER, target="staging", verdict=Verdict.BLOCKED, reasons=("20240103_dup failed: 42P07",)):
    """A job in the store that has ended, as jobs have when their notification is delivered."""
    job, _ = repository.create_job(store, kind=kind, target=target, requested_by="ci", params={})
    repository.transition(store, job.id, JobState.RUNNING)
    return repository.transition(store, job.id, JobState.SUCCEEDED, verdict=verdict, reasons=list(reasons))


def wait_for_delivery_note(store, job_id, seconds=15.0):
    """The note the delivery task journals on the job: the signal that the task is over."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        notes = [e for e in repository.job_events(store, job_id) if e.kind == "note" and "outcome" in e.data]
        if notes:
            assert len(notes) == 1, notes
            return notes[0]
        time.sleep(0.05)
    raise AssertionError(f"no delivery journaled on job {job_id}")


def test_delivered_after_two_server_errors_with_backoff_and_one_delivery_id(notifying_worker, store, caplog):
    caplog.set_level(logging.INFO)
    receiver = notifying_worker
    receiver.answer(500, 500)
    job = ended_job(store)

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
    # service.backoff with a floor: no retry comes sooner than the first wait.
    assert second.at - first.at >= BACKOFF
    assert third.at - second.at >= BACKOFF

    wait_for_log(caplog, "notification_delivered")
    events = logged_lines(caplog, "notifications")
    assert [e["event"] for e in events if e["event"] != "notification_enqueued"] == ["notification_retry", "notification_retry", "notification_delivered"]
    assert {e["attempt"] for e in events if e["event"] == "notification_delivered"} == {3}
    assert receiver.url not in logged_text(caplog) and SECRET not in logged_text(caplog) and "hunter2" not in logged_text(caplog)

    # Journaled on the job, which had ended: appended, and the job is as it was.
    note = wait_for_delivery_note(store, job.id)
    assert note.data == {
        "notification": "verdict_blocked", "delivery_id": first.headers["X-Deploy-Gate-Delivery"], "outcome": "delivered", "status": 200, "attempt": 3,
    }  # fmt: skip
    assert repository.get_job(store, job.id) == job
    assert receiver.url not in json.dumps(note.data) and SECRET not in json.dumps(note.data)
    team_notified = build_report(job, repository.job_events(store, job.id)).checklist[4]
    assert (team_notified.id, team_notified.done, team_notified.at) == ("team_notified", True, note.at)
    assert team_notified.evidence.startswith("verdict_blocked notification delivered at ") and team_notified.evidence.endswith(" (HTTP 200, attempt 3)")


def test_a_client_error_is_given_up_at_once(notifying_worker, store, caplog):
    caplog.set_level(logging.INFO)
    receiver = notifying_worker
    receiver.default_status = 400
    job, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ci", params={})
    job = repository.transition(store, job.id, JobState.RUNNING)
    job = repository.transition(store, job.id, JobState.WAITING_APPROVAL, reasons=["needs a person"])
    notifications.notify("approval_needed", job, plan="restore a snapshot")
    [request] = receiver.wait_for(1)
    assert request.json()["deploy_gate"]["details"] == {"plan": "restore a snapshot"}
    wait_for_log(caplog, "notification_rejected")
    # The task journals its outcome as it ends, so no retry can follow this note.
    note = wait_for_delivery_note(store, job.id)
    assert (note.data["outcome"], note.data["status"], note.data["attempt"]) == ("rejected", 400, 1)
    assert len(receiver.requests) == 1
    assert repository.get_job(store, job.id).state is JobState.WAITING_APPROVAL
    assert receiver.url not in logged_text(caplog)


def test_gives_up_after_the_last_retry(notifying_worker, store, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(notifications, "MAX_RETRIES", 1)
    receiver = notifying_worker
    receiver.default_status = 503
    job = ended_job(store, kind=JobKind.RESTORE, verdict=Verdict.BLOCKED, reasons=["InvalidDBSnapshotState"])
    notifications.notify("restore_failed", job, error="InvalidDBSnapshotState")
    receiver.wait_for(2)
    wait_for_log(caplog, "notification_gave_up")
    note = wait_for_delivery_note(store, job.id)
    assert {key: note.data[key] for key in ("outcome", "status", "error", "attempt")} == {
        "outcome": "gave_up", "status": 503, "error": "the receiver answered 503", "attempt": 2,
    }  # fmt: skip
    assert len(receiver.requests) == 2
    team_notified = build_report(job, repository.job_events(store, job.id)).checklist[4]
    assert (team_notified.done, team_notified.at) == (False, None)
    assert team_notified.evidence == f"restore_failed notification not delivered: gave up at {when(note.at)} (the receiver answered 503, attempt 2)"


def test_a_notification_the_delivering_worker_is_not_configured_for_is_dropped_and_journaled(notifying_worker, store, celery_session_app):
    # Enqueued where target `quiet` took this kind, delivered by a worker whose configuration takes none.
    job = ended_job(store, target="quiet")
    celery_session_app.send_task(notifications.NOTIFY_TASK, args=[notification_event("verdict_blocked", job)])
    note = wait_for_delivery_note(store, job.id)
    assert (note.data["outcome"], note.data["notification"]) == ("dropped", "verdict_blocked")
    assert notifying_worker.requests == []
    team_notified = build_report(job, repository.job_events(store, job.id)).checklist[4]
    assert team_notified.done is False and team_notified.evidence.startswith(f"verdict_blocked notification dropped at {when(note.at)}: ")


def when(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture
def hooked_service(service_env, receiver, tmp_path, monkeypatch, celery_session_app):
    """The end-to-end service (tests/workers/conftest.py) with a webhook to the receiver."""
    with (tmp_path / "deploy-gate.toml").open("a") as config_file:
        config_file.write('\n[notifications]\nurl_env = "TEST_HOOK_URL"\nsecret_env = "TEST_HOOK_SECRET"\n')
    hook_environment(monkeypatch, receiver, celery_session_app)
    state.reset()
    yield receiver


def test_a_blocked_recovery_tells_the_team_and_its_report_ticks_only_the_delivery(hooked_service, api, celery_session_worker):
    receiver = hooked_service
    failing = MIGRATIONS + [{"name": "20240103_divide", "sql": 'CREATE TABLE "Ratio" ("id" INT);\nSELECT 1 / 0;'}]
    response = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": failing}, headers=AUTH)
    deploy = wait_for_verdict(api, response.get_json()["id"])
    recover_id = next(e["data"]["job"] for e in deploy["events"] if e["step"] == "recover" and e["kind"] == "step_finished")
    recovered = wait_for_verdict(api, recover_id)
    assert recovered["verdict"] == "blocked"

    [request] = receiver.wait_for(1)
    assert (request.json()["deploy_gate"]["event"], request.json()["deploy_gate"]["job_id"]) == ("verdict_blocked", recover_id)
    note = wait_for_event(api, recover_id, lambda event: event["kind"] == "note")
    assert note["data"] == {
        "notification": "verdict_blocked",
        "delivery_id": request.headers["X-Deploy-Gate-Delivery"],
        "outcome": "delivered",
        "status": 200,
        "attempt": 1,
    }
    after = api.get(f"/v1/jobs/{recover_id}", headers=AUTH).get_json()
    assert {key: after[key] for key in ("state", "verdict", "updated_at", "finished_at")} == {
        key: recovered[key] for key in ("state", "verdict", "updated_at", "finished_at")
    }

    report = api.get(f"/v1/jobs/{recover_id}/report", headers=AUTH).get_json()
    items = {item["id"]: item for item in report["checklist"]}
    assert (items["team_notified"]["done"], items["team_notified"]["at"]) == (True, note["at"])
    assert items["team_notified"]["evidence"].startswith("verdict_blocked notification delivered at ")
    assert (items["sql_reviewed"]["done"], items["functionality_verified"]["done"]) == (False, False)


def wait_for_event(api, job_id, wanted, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [event for event in api.get(f"/v1/jobs/{job_id}?wait=1", headers=AUTH).get_json()["events"] if wanted(event)]
        if found:
            return found[0]
    raise AssertionError(f"no such event on job {job_id}")


def test_a_broker_that_is_down_never_reaches_the_job(monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text(
        '[notifications]\nurl_env = "TEST_HOOK_URL"\nsecret_env = "TEST_HOOK_SECRET"\n\n[targets.staging]\ndatabase_url_env = "TEST_STAGING_URL"\n'
    )
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
    [line] = [line for line in logged_lines(caplog) if line["event"] == "notification_not_enqueued"]
    assert line["error"] == "OperationalError"
    assert "hook-token" not in logged_text(caplog) and SECRET not in logged_text(caplog)


def wait_for_log(caplog, event: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(record.getMessage() == event for record in caplog.records):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {event} log line")
