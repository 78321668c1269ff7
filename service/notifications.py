"""Outbound notifications: a signed, Slack-compatible webhook when a job needs a person's attention.

The job runner gets a `notify(kind, job, **details)` callable from `make_notifier`. It never raises
and never waits on the network: it builds a secret-free *event* (plain JSON data: the kind, the
job's id, target, verdict and reasons, the details) and hands it to an `enqueue` callable; in a
worker that puts a Celery task on the broker, and the task calls `deliver` (see
`workers.notifications`). The webhook URL and key stay in the process's configuration and never
travel through the broker. `notify` returns a `Handoff` (enqueued, not configured, or failed),
which the runner journals; the task journals the `Delivery` outcome on the job when it is known,
so a job's report says "notified" only for a notification that was delivered.

Kinds (`service.config.records.NOTIFICATION_EVENTS`) and the details the runner passes:

| kind | when | details |
| --- | --- | --- |
| `verdict_blocked` | a job ends with verdict `blocked` | none needed (the job's reasons are sent) |
| `approval_needed` | a job stops in `waiting_approval` | `plan`: the proposed plan in plain words (a string or a list of steps) |
| `restore_started` | a restore job starts restoring | e.g. `source` (snapshot or point in time), `new_instance` |
| `restore_finished` | the restored instance is available | e.g. `new_instance`, `endpoint` |
| `restore_failed` | the restore could not finish | e.g. `error` |
| `failover_started` | a failover job asks AWS to promote the read replica (or fail the Aurora cluster over) | e.g. `source`, `replica` |
| `failover_finished` | the replica serves writes | e.g. `replica`, `endpoint` |
| `failover_failed` | the failover did not finish | e.g. `error` |
| `drift_detected` | a scheduled `drift` job finds differences the previous one did not | `new`: those differences, one line each; `differences`: how many there are in all |

Every request carries:

- `X-Deploy-Gate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` and
  `X-Deploy-Gate-Timestamp: <unix seconds>`. The timestamp is inside the signed string so that a
  captured request cannot be replayed later: changing the timestamp breaks the signature, and
  receivers refuse timestamps outside a tolerance (`verify_signature`).
- `X-Deploy-Gate-Delivery` and `Idempotency-Key`: a delivery id derived from the event's content,
  the same on every retry (and when a resumed job reports the same thing again), so receivers can
  drop duplicates.
- `X-Deploy-Gate-Event`: the kind.

The body links to the job and its report (`service.links.job_links`); with a report-link secret
configured the report link carries its token, so a person can open it without an API token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from service import outbound
from service.config.records import NOTIFICATION_EVENTS, Config, Webhook
from service.links import job_links
from service.prisma.database import redact_text

if TYPE_CHECKING:
    from service.store.repository import Job

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Deploy-Gate-Signature"
TIMESTAMP_HEADER = "X-Deploy-Gate-Timestamp"
DELIVERY_HEADER = "X-Deploy-Gate-Delivery"
EVENT_HEADER = "X-Deploy-Gate-Event"
DEFAULT_TOLERANCE_SECONDS = 300
# Short: a slow receiver costs a worker slot, and the task retries anyway.
TIMEOUT_SECONDS = 5.0
# The receiver's answer matters for its status only.
_MAX_ANSWER_BYTES = 64 * 1024
# Slack refuses a section text above 3,000 characters; the machine-readable object keeps everything.
_MAX_SECTION_CHARS = 2900
_MAX_LISTED_REASONS = 10
_DELIVERY_NAMESPACE = uuid.UUID("5f0c3d1e-9a7b-4d2e-8c61-3b4a2f6e9d10")

_TITLES = {
    "verdict_blocked": "Deploy blocked",
    "approval_needed": "Approval needed",
    "restore_started": "Restore started",
    "restore_finished": "Restore finished",
    "restore_failed": "Restore failed",
    "failover_started": "Failover started",
    "failover_finished": "Failover finished",
    "failover_failed": "Failover failed",
    "drift_detected": "Drift detected",
}


class Handoff(StrEnum):
    """What `notify` did with a notification; the runner journals it on the job."""

    ENQUEUED = "enqueued"  # on the broker: the delivery task journals what became of it
    NOT_CONFIGURED = "not_configured"  # the target has no webhook, or its webhook does not take this kind
    FAILED = "failed"  # not handed on: an unknown kind, an unreadable configuration, the broker down


class Delivery(StrEnum):
    """What became of an enqueued notification; the delivery task journals it on the job."""

    DELIVERED = "delivered"  # the receiver answered 2xx
    REJECTED = "rejected"  # the receiver refused it (a 4xx other than 429, a redirect)
    GAVE_UP = "gave_up"  # still failing after the last retry
    DROPPED = "dropped"  # the worker delivering it has no webhook for the target (or this kind)


class Notify(Protocol):
    def __call__(self, kind: str, job: Job, /, **details: Any) -> Handoff: ...


def no_notifier(kind: str, job: Job, /, **details: Any) -> Handoff:
    """The runner's `notify` where nothing is configured to tell people (tests, one-off runs)."""
    return Handoff.NOT_CONFIGURED


class DeliveryFailed(Exception):
    """The receiver could not take it now (429, 5xx, network): worth trying again later."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class DeliveryRejected(Exception):
    """The receiver refused it (another 4xx, a redirect): sending it again would not help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def make_notifier(config: Callable[[], Config], enqueue: Callable[[dict[str, Any]], None]) -> Notify:
    """The runner's `notify`: build the event if the target wants this kind, hand it to `enqueue`, say which (`Handoff`).

    `config` is called on each notification (a cached loader in a worker). Whatever goes wrong,
    from an unknown kind to a broker that is down, is logged and swallowed: a notification must
    never change a job's outcome or hold it up.
    """

    def notify(kind: str, job: Job, /, **details: Any) -> Handoff:
        try:
            if kind not in NOTIFICATION_EVENTS:
                log.warning("notification_unknown_kind", extra=dict(notification=kind, job_id=job.id))
                return Handoff.FAILED
            loaded = config()
            webhook = loaded.notifications.for_target(job.target)
            if webhook is None or kind not in webhook.events:
                return Handoff.NOT_CONFIGURED
            target = loaded.targets.get(job.target)
            redact = (lambda text: redact_text(text, target.database)) if target else redact_text
            event = notification_event(kind, job, details, redact=redact)
            enqueue(event)
            log.info("notification_enqueued", extra=dict(notification=kind, job_id=job.id, target=job.target, delivery_id=event["delivery_id"]))
            return Handoff.ENQUEUED
        except Exception as error:  # noqa: BLE001 - see the docstring: never into the job
            log.warning(
                "notification_not_enqueued",
                extra=dict(
                    notification=kind,
                    job_id=getattr(job, "id", None),
                    error=type(error).__name__,
                    detail=redact_text(str(error))[:200],
                ),
            )
            return Handoff.FAILED

    return notify


def notification_event(
    kind: str,
    job: Job,
    details: Mapping[str, Any] | None = None,
    *,
    redact: Callable[[str], str] = redact_text,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The secret-free event a delivery is made of: JSON data, safe to put on the broker."""
    if kind not in NOTIFICATION_EVENTS:
        raise ValueError(f"unknown notification kind {kind!r}")
    verdict = job.verdict.value if job.verdict is not None else None
    reasons = [redact(str(reason)) for reason in job.reasons]
    # A JSON round trip turns dates and enums into strings and leaves plain data the broker can carry.
    cleaned = _redact_data(json.loads(json.dumps(dict(details or {}), default=str)), redact)
    content = [kind, job.id, verdict, reasons, cleaned]
    delivery_id = str(uuid.uuid5(_DELIVERY_NAMESPACE, json.dumps(content, sort_keys=True)))
    return {
        "event": kind,
        "delivery_id": delivery_id,
        "occurred_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "job_id": job.id,
        "job_kind": job.kind.value,
        "target": job.target,
        "state": job.state.value,
        "verdict": verdict,
        "reasons": reasons,
        "details": cleaned,
    }


def _redact_data(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_data(item, redact) for item in value]
    if isinstance(value, dict):
        return {str(key): _redact_data(item, redact) for key, item in value.items()}
    return value


def render_message(event: Mapping[str, Any], public_url: str = "", report_link_secret: str | None = None) -> dict[str, Any]:
    """The request body: Slack's `text` and `blocks`, and the event as `deploy_gate` for machines.

    With `report_link_secret` the report link opens without a bearer token (service.links); it is
    signed here, at delivery, so the event on the broker stays secret-free.
    """
    links = job_links(event["job_id"], public_url, report_link_secret)
    title = _TITLES[event["event"]]
    details = dict(event.get("details") or {})
    plan = _plan_lines(details.pop("plan", None))
    new_drift = _plan_lines(details.pop("new", None)) if event["event"] == "drift_detected" else []
    reasons = list(event.get("reasons") or [])

    summary = f"deploy-gate: {title.lower()} on {event['target']} ({event['job_kind']} job {event['job_id']})"
    if event["event"] == "approval_needed" and plan:
        summary += f": {'; '.join(plan)}"
    elif new_drift:
        summary += f": {new_drift[0]}" + (f" (and {len(new_drift) - 1} more)" if len(new_drift) > 1 else "")
    elif reasons:
        summary += f": {reasons[0]}" + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")
    summary += f". {links['job']}"

    job_ref = f"<{links['job']}|{event['job_id']}>" if public_url else f"`{event['job_id']}`"
    headline = f"*{title}* on `{_escape(event['target'])}`: {_escape(event['job_kind'])} job {job_ref}"
    if event.get("verdict"):
        headline += f", verdict *{_escape(event['verdict'])}*"
    blocks: list[dict[str, Any]] = [_section(headline)]
    if plan:
        blocks.append(_section("*Plan*\n" + _bullets(plan)))
    if new_drift:
        blocks.append(_section("*New drift* (the target's schema against its applied migrations)\n" + _bullets(new_drift)))
    if reasons:
        blocks.append(_section("*Reasons*\n" + _bullets(reasons)))
    if details:
        fields = [f"*{_escape(key)}*\n{_escape(_plain(value))}" for key, value in list(details.items())[:10]]
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": field[:2000]} for field in fields]})
    context = f"<{links['job']}|Job> · <{links['report']}|Report>" if public_url else f"Job: `{links['job']}` · Report: `{links['report']}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": summary, "blocks": blocks, "deploy_gate": {**event, "links": links}}


def _plan_lines(plan: Any) -> list[str]:
    if plan is None:
        return []
    if isinstance(plan, list):
        return [_plain(step) for step in plan]
    return [_plain(plan)]


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _escape(text: str) -> str:
    # Slack's mrkdwn reads <...> as links and mentions; these three are its escapes.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bullets(lines: list[str]) -> str:
    shown = lines[:_MAX_LISTED_REASONS]
    text = "\n".join(f"• {_escape(line)}" for line in shown)
    if len(lines) > len(shown):
        text += f"\n… and {len(lines) - len(shown)} more"
    return text if len(text) <= _MAX_SECTION_CHARS else text[: _MAX_SECTION_CHARS - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_SECTION_CHARS]}}


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` (see the module docstring for why)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: int | str | None,
    body: bytes,
    header: str | None,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """For receivers: is this body signed with `secret`, at a time within `tolerance` of `now`?

    Pass the raw body as received (not re-serialised JSON) and the two headers' values. Malformed
    input is simply not valid; comparison is in constant time.
    """
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, stamp, body).encode("ascii"), header.strip().lower().encode("ascii", "replace"))


def deliver(
    webhook: Webhook,
    event: Mapping[str, Any],
    *,
    now: Callable[[], float] = time.time,
    timeout: float = TIMEOUT_SECONDS,
) -> int:
    """POST the signed message once (through `service.outbound`); the receiver's 2xx status, or `DeliveryFailed`/`DeliveryRejected`.

    A redirect is a refusal: it would resend the signed body somewhere not configured. Error
    messages name the status or the kind of network failure, never the URL.
    """
    body = encode(render_message(event, webhook.public_url, webhook.report_link_secret))
    timestamp = int(now())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: event["delivery_id"],
        "Idempotency-Key": event["delivery_id"],
        EVENT_HEADER: event["event"],
    }
    try:
        answer = outbound.request("POST", webhook.url, headers=headers, body=body, timeout=timeout, max_body=_MAX_ANSWER_BYTES)
    except outbound.ResponseTooLarge as error:
        raise DeliveryFailed(str(error), status=error.status) from None
    except outbound.OutboundError as error:
        raise DeliveryFailed(str(error)) from None
    if 200 <= answer.status < 300:
        return answer.status
    if answer.status == 429 or answer.status >= 500:
        raise DeliveryFailed(f"the receiver answered {answer.status}", status=answer.status, retry_after=answer.retry_after)
    raise DeliveryRejected(f"the receiver answered {answer.status}", status=answer.status)
