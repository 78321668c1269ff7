"""Outbound notifications: the message, its signature, one delivery to a real HTTP receiver, the notifier."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.config.records import NOTIFICATION_EVENTS, Config, Notifications, Policy, Target, Webhook
from service.jobs.states import JobKind, JobState, Verdict
from service.links import report_token
from service.notifications import (
    DeliveryFailed,
    DeliveryRejected,
    Handoff,
    deliver,
    make_notifier,
    notification_event,
    render_message,
    sign,
    verify_signature,
)
from service.prisma.database import parse_database_url
from service.store.repository import Job
from tests.logs import logged_lines, logged_text

SECRET = "whsec-0123456789abcdef"
LINK_SECRET = "report-link-secret-0123456789"
PUBLIC_URL = "https://gate.example.com"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread: records requests, answers the statuses it is told."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.extra_headers: dict[str, str] = {}
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.default_status
                    receiver.arrived.notify_all()
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/deploy-gate"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    def wait_for(self, count: int, seconds: float = 15.0) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=seconds):
                raise AssertionError(f"{len(self.requests)} requests arrived, expected {count}")
            return list(self.requests)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def make_job(**changes) -> Job:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    job = Job(
        id="0b9f3c52-6c1e-4f0e-9a3e-2d6f1f0b7a11",
        kind=JobKind.DEPLOY,
        target="staging",
        state=JobState.SUCCEEDED,
        verdict=Verdict.BLOCKED,
        reasons=['20240103_dup failed: 42P07 relation "Visit" already exists', "lint: drop-table in 20240104_cleanup"],
        facts={},
        params={},
        bundle_digest=None,
        parent_id=None,
        requested_by="ci",
        idempotency_key=None,
        attempts=1,
        created_at=now,
        updated_at=now,
        started_at=now,
        finished_at=now,
    )
    return replace(job, **changes)


def webhook(url="https://hooks.example.com/T000/B000/XXXX", **changes) -> Webhook:
    return replace(Webhook(url=url, secret=SECRET, public_url=PUBLIC_URL), **changes)


# The message


def test_blocked_verdict_message_is_slack_shaped_with_machine_readable_facts():
    job = make_job()
    message = render_message(notification_event("verdict_blocked", job), PUBLIC_URL)

    assert message["text"].startswith("deploy-gate: deploy blocked on staging (deploy job 0b9f3c52-")
    assert "42P07" in message["text"] and "(and 1 more)" in message["text"]
    assert message["text"].endswith(f"{PUBLIC_URL}/v1/jobs/{job.id}")
    assert all(block["type"] in ("section", "context") for block in message["blocks"])
    headline, reasons, links = message["blocks"]
    assert "*Deploy blocked* on `staging`" in headline["text"]["text"] and "verdict *blocked*" in headline["text"]["text"]
    assert reasons["text"]["text"] == ('*Reasons*\n• 20240103_dup failed: 42P07 relation "Visit" already exists\n• lint: drop-table in 20240104_cleanup')
    assert links["elements"][0]["text"] == f"<{PUBLIC_URL}/v1/jobs/{job.id}|Job> · <{PUBLIC_URL}/v1/jobs/{job.id}/report|Report>"

    facts = message["deploy_gate"]
    assert facts["event"] == "verdict_blocked" and facts["job_id"] == job.id and facts["target"] == "staging"
    assert facts["verdict"] == "blocked" and facts["reasons"] == job.reasons and facts["job_kind"] == "deploy"
    assert facts["links"] == {"job": f"{PUBLIC_URL}/v1/jobs/{job.id}", "report": f"{PUBLIC_URL}/v1/jobs/{job.id}/report"}
    assert json.loads(json.dumps(message)) == message


def test_approval_message_carries_the_plan():
    job = make_job(kind=JobKind.RECOVER, state=JobState.WAITING_APPROVAL, verdict=None, reasons=["effects partial"])
    plan = ["run the rollback SQL of 20240103_dup", "mark 20240103_dup rolled back"]
    message = render_message(notification_event("approval_needed", job, {"plan": plan}), PUBLIC_URL)

    assert message["text"].startswith("deploy-gate: approval needed on staging (recover job")
    assert "run the rollback SQL of 20240103_dup; mark 20240103_dup rolled back" in message["text"]
    assert message["blocks"][1]["text"]["text"] == "*Plan*\n• run the rollback SQL of 20240103_dup\n• mark 20240103_dup rolled back"
    assert message["deploy_gate"]["details"] == {"plan": plan}
    assert message["deploy_gate"]["verdict"] is None


@pytest.mark.parametrize(
    "kind, details, words",
    [
        ("restore_started", {"source": "snapshot rds:prod-2024-05-01", "new_instance": "prod-restore-1"}, "restore started"),
        ("restore_finished", {"endpoint": "prod-restore-1.abc.us-east-1.rds.amazonaws.com:5432"}, "restore finished"),
        ("restore_failed", {"error": "InvalidDBSnapshotState"}, "restore failed"),
    ],
)
def test_restore_messages_show_their_details(kind, details, words):
    job = make_job(kind=JobKind.RESTORE, state=JobState.RUNNING, verdict=None, reasons=[])
    message = render_message(notification_event(kind, job, details), PUBLIC_URL)
    assert message["text"].startswith(f"deploy-gate: {words} on staging (restore job {job.id})")
    fields = [field["text"] for field in message["blocks"][1]["fields"]]
    assert fields == [f"*{key}*\n{value}" for key, value in details.items()]
    assert message["deploy_gate"]["details"] == details and message["deploy_gate"]["event"] == kind


@pytest.mark.parametrize(
    "kind, details, words",
    [
        ("failover_started", {"source": "prod", "replica": "prod-replica"}, "failover started"),
        ("failover_finished", {"replica": "prod-replica", "endpoint": "prod-replica.abc.us-east-1.rds.amazonaws.com:5432"}, "failover finished"),
        ("failover_failed", {"error": "AWS reports storage-full", "replica": "prod-replica"}, "failover failed"),
    ],
)
def test_failover_messages_show_their_details(kind, details, words):
    job = make_job(kind=JobKind.FAILOVER, state=JobState.RUNNING, verdict=None, reasons=[])
    message = render_message(notification_event(kind, job, details), PUBLIC_URL)
    assert message["text"].startswith(f"deploy-gate: {words} on staging (failover job {job.id})")
    assert [field["text"] for field in message["blocks"][1]["fields"]] == [f"*{key}*\n{value}" for key, value in details.items()]
    assert message["deploy_gate"]["event"] == kind and message["deploy_gate"]["job_kind"] == "failover"


def test_drift_message_lists_the_new_drift():
    reasons = ["drift: the target's schema differs from its applied migrations in 2 objects (drift mode warn: this alone does not block)"]
    job = make_job(kind=JobKind.DRIFT, verdict=Verdict.PROCEED, reasons=reasons)
    new = ['+ index "Patient_email_idx" ON "Patient" (email) — not in the migrations', '- column "Patient".phone text — in the migrations, not on the target']
    message = render_message(notification_event("drift_detected", job, {"new": new, "differences": 2}), PUBLIC_URL)

    assert message["text"].startswith(f'deploy-gate: drift detected on staging (drift job {job.id}): + index "Patient_email_idx"')
    assert "(and 1 more)" in message["text"]
    headline, drift, listed_reasons, fields, _ = message["blocks"]
    assert "*Drift detected* on `staging`" in headline["text"]["text"]
    assert drift["text"]["text"] == "*New drift* (the target's schema against its applied migrations)\n• " + "\n• ".join(new)
    assert fields["fields"] == [{"type": "mrkdwn", "text": "*differences*\n2"}]
    assert message["deploy_gate"]["details"] == {"new": new, "differences": 2}


def test_text_is_escaped_for_slack_and_links_without_public_url_are_paths():
    job = make_job(reasons=["<!channel> a & b"])
    message = render_message(notification_event("verdict_blocked", job))
    assert "&lt;!channel&gt; a &amp; b" in message["blocks"][1]["text"]["text"]
    assert message["deploy_gate"]["reasons"] == ["<!channel> a & b"]
    assert message["deploy_gate"]["links"]["report"] == f"/v1/jobs/{job.id}/report"


def test_with_a_report_link_secret_the_report_link_opens_without_a_token_and_the_job_link_stays_plain():
    job = make_job()
    event = notification_event("verdict_blocked", job)
    message = render_message(event, PUBLIC_URL, LINK_SECRET)
    report = f"{PUBLIC_URL}/v1/jobs/{job.id}/report?token={report_token(LINK_SECRET, job.id)}"
    assert message["deploy_gate"]["links"] == {"job": f"{PUBLIC_URL}/v1/jobs/{job.id}", "report": report}
    assert message["blocks"][-1]["elements"][0]["text"] == f"<{PUBLIC_URL}/v1/jobs/{job.id}|Job> · <{report}|Report>"
    assert LINK_SECRET not in json.dumps(message)
    # The event that travels through the broker carries no token: the link is signed at delivery.
    assert "token" not in json.dumps(event)


def test_database_passwords_never_reach_the_message():
    job = make_job(reasons=["could not connect to postgresql://app:hunter2@db.internal:5432/app"])
    event = notification_event("restore_failed", job, {"error": "postgres://admin:s3cret@x/y refused"})
    body = json.dumps(render_message(event, PUBLIC_URL))
    assert "hunter2" not in body and "s3cret" not in body


def test_delivery_id_depends_on_the_content_only():
    job = make_job()
    first = notification_event("verdict_blocked", job, now=datetime(2024, 1, 1, tzinfo=UTC))
    again = notification_event("verdict_blocked", job, now=datetime(2024, 1, 2, tzinfo=UTC))
    other = notification_event("verdict_blocked", make_job(reasons=["something else"]))
    assert first["delivery_id"] == again["delivery_id"] != other["delivery_id"]
    assert notification_event("approval_needed", job)["delivery_id"] != first["delivery_id"]


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown notification kind"):
        notification_event("deploy_succeeded", make_job())


# Signatures


def test_signature_verifies_and_refuses_tampering_wrong_keys_and_stale_times():
    body = b'{"text":"hi"}'
    now = 1_714_560_000
    header = sign(SECRET, now, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(SECRET, str(now), body, header, now=now + 10)
    assert verify_signature(SECRET.encode(), now, body, header, now=now - 10)
    assert not verify_signature(SECRET, now, b'{"text":"ho"}', header, now=now)
    assert not verify_signature("another-secret-of-length", now, body, header, now=now)
    assert not verify_signature(SECRET, now, body, header, now=now + 301)
    assert verify_signature(SECRET, now, body, header, now=now + 301, tolerance=600)
    # The timestamp is signed: a replay with a fresh timestamp does not verify.
    assert not verify_signature(SECRET, now + 400, body, header, now=now + 400)
    for bad_header in (None, "", header[len("sha256=") :], "sha1=" + header[7:], "sha256=zz"):
        assert not verify_signature(SECRET, now, body, bad_header, now=now)
    for bad_stamp in (None, "", "yesterday"):
        assert not verify_signature(SECRET, bad_stamp, body, header, now=now)


# One delivery


def test_delivery_posts_a_signed_message_the_receiver_can_verify(receiver):
    event = notification_event("verdict_blocked", make_job())
    status = deliver(webhook(receiver.url), event)
    assert status == 200
    [request] = receiver.requests
    assert request.path == "/hooks/deploy-gate"
    assert request.headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, request.headers["X-Deploy-Gate-Timestamp"], request.body, request.headers["X-Deploy-Gate-Signature"])
    assert request.headers["X-Deploy-Gate-Delivery"] == request.headers["Idempotency-Key"] == event["delivery_id"]
    assert request.headers["X-Deploy-Gate-Event"] == "verdict_blocked"
    assert request.json() == render_message(event, PUBLIC_URL)


def test_a_webhook_with_a_report_link_secret_delivers_the_signed_report_link(receiver):
    job = make_job()
    event = notification_event("approval_needed", job, {"plan": ["run the rollback SQL"]})
    assert deliver(webhook(receiver.url, report_link_secret=LINK_SECRET), event) == 200
    [request] = receiver.requests
    links = request.json()["deploy_gate"]["links"]
    assert links["report"] == f"{PUBLIC_URL}/v1/jobs/{job.id}/report?token={report_token(LINK_SECRET, job.id)}"
    assert links["job"] == f"{PUBLIC_URL}/v1/jobs/{job.id}"
    assert LINK_SECRET.encode() not in request.body


def test_retries_carry_the_same_delivery_id_and_a_fresh_signed_timestamp(receiver):
    receiver.answer(500)
    event = notification_event("verdict_blocked", make_job())
    clock = iter([1_714_560_000, 1_714_560_007])
    with pytest.raises(DeliveryFailed, match="answered 500") as failed:
        deliver(webhook(receiver.url), event, now=lambda: next(clock))
    assert failed.value.status == 500
    assert deliver(webhook(receiver.url), event, now=lambda: next(clock)) == 200
    first, second = receiver.requests
    assert first.headers["X-Deploy-Gate-Delivery"] == second.headers["X-Deploy-Gate-Delivery"] == event["delivery_id"]
    assert first.body == second.body
    assert (first.headers["X-Deploy-Gate-Timestamp"], second.headers["X-Deploy-Gate-Timestamp"]) == ("1714560000", "1714560007")
    assert verify_signature(SECRET, "1714560007", second.body, second.headers["X-Deploy-Gate-Signature"], now=1_714_560_007)


def test_too_many_requests_is_retried_after_what_the_receiver_asks(receiver):
    receiver.answer(429)
    receiver.extra_headers["Retry-After"] = "7"
    with pytest.raises(DeliveryFailed) as failed:
        deliver(webhook(receiver.url), notification_event("verdict_blocked", make_job()))
    assert (failed.value.status, failed.value.retry_after) == (429, 7.0)


def test_a_retry_after_date_is_read_as_the_seconds_until_then(receiver):
    receiver.answer(503)
    receiver.extra_headers["Retry-After"] = email.utils.formatdate(time.time() + 60, usegmt=True)
    with pytest.raises(DeliveryFailed) as failed:
        deliver(webhook(receiver.url), notification_event("verdict_blocked", make_job()))
    assert failed.value.status == 503 and 58 <= failed.value.retry_after <= 60


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_client_errors_are_given_up(receiver, status):
    receiver.answer(status)
    with pytest.raises(DeliveryRejected) as rejected:
        deliver(webhook(receiver.url), notification_event("verdict_blocked", make_job()))
    assert rejected.value.status == status
    assert receiver.url not in str(rejected.value)


def test_redirects_are_not_followed(receiver):
    receiver.answer(307)
    receiver.extra_headers["Location"] = "http://127.0.0.1:9/elsewhere"
    with pytest.raises(DeliveryRejected, match="answered 307"):
        deliver(webhook(receiver.url), notification_event("verdict_blocked", make_job()))
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_is_worth_retrying_and_the_error_hides_the_url():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/secret-path-token"
    with pytest.raises(DeliveryFailed) as failed:
        deliver(webhook(url), notification_event("verdict_blocked", make_job()), timeout=2)
    assert str(failed.value) == "network error (ConnectionRefusedError)"
    assert failed.value.retry_after is None


# The notifier the job runner calls


def config_with(notifications: Notifications) -> Config:
    database = parse_database_url("postgresql://app:hunter2@db.internal:5432/app")
    targets = {name: Target(name, database, Policy()) for name in ("staging", "production")}
    return Config(targets, (), notifications)


def test_notifier_enqueues_the_event_for_wanted_kinds_only():
    enqueued = []
    production = webhook(events=frozenset({"restore_started"}))
    overrides = {"production": production, "quiet": webhook(events=frozenset())}
    notify = make_notifier(lambda: config_with(Notifications(webhook(), overrides)), enqueued.append)

    handoffs = [
        notify("verdict_blocked", make_job(reasons=["connect to postgresql://app:hunter2@db.internal/app failed: hunter2"])),
        notify("verdict_blocked", make_job(target="production")),
        notify("restore_started", make_job(target="production", kind=JobKind.RESTORE), source="snapshot x"),
        notify("approval_needed", make_job(target="quiet"), plan="anything"),
    ]

    # What the runner journals: enqueued only what went on the broker.
    assert handoffs == [Handoff.ENQUEUED, Handoff.NOT_CONFIGURED, Handoff.ENQUEUED, Handoff.NOT_CONFIGURED]

    assert [(event["event"], event["target"]) for event in enqueued] == [("verdict_blocked", "staging"), ("restore_started", "production")]
    assert enqueued[1]["details"] == {"source": "snapshot x"}
    assert "hunter2" not in json.dumps(enqueued), "the target's password is redacted, in and outside URLs"
    assert SECRET not in json.dumps(enqueued) and "hooks.example.com" not in json.dumps(enqueued)


def test_notifier_without_configuration_sends_nothing():
    enqueued = []
    notify = make_notifier(lambda: config_with(Notifications()), enqueued.append)
    assert {notify(kind, make_job()) for kind in NOTIFICATION_EVENTS} == {Handoff.NOT_CONFIGURED}
    assert enqueued == []


def test_notifier_never_raises_and_logs_without_secrets(caplog):
    def broker_down(event):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def unreadable_config():
        raise RuntimeError("config is gone")

    caplog.set_level(logging.INFO, logger="service.notifications")
    handoffs = [
        make_notifier(lambda: config_with(Notifications(webhook())), broker_down)("verdict_blocked", make_job()),
        make_notifier(unreadable_config, broker_down)("verdict_blocked", make_job()),
        make_notifier(lambda: config_with(Notifications(webhook())), broker_down)("deploy_done", make_job()),
        make_notifier(lambda: config_with(Notifications(webhook())), broker_down)("verdict_blocked", None),
    ]
    assert handoffs == [Handoff.FAILED] * 4

    lines = logged_lines(caplog)
    assert [line["event"] for line in lines] == [
        "notification_not_enqueued",
        "notification_not_enqueued",
        "notification_unknown_kind",
        "notification_not_enqueued",
    ]
    assert lines[0]["error"] == "ConnectionError" and lines[0]["job_id"] == make_job().id
    assert lines[1]["detail"] == "config is gone"
    assert SECRET not in logged_text(caplog) and "hooks.example.com" not in logged_text(caplog)
