"""Vercel and GitHub: signed webhooks start jobs, and each job's verdict goes back to the platform.

Webhooks in (`vercel.receive`, `github.receive`): the caller has verified the signature over the raw
body and parsed the delivery; in one store transaction the delivery id is remembered (a redelivery
does nothing and says `duplicate`), what it was about recorded, and a job submitted. The caller
enqueues the job after commit. The answer is a `Receipt`.

Verdicts out: a job started for a platform gets an *integration report*, a row in the store owing
the platform its verdict (the deployment's Vercel check runs, or with Vercel's deprecated v1 API a
deployment check; or a GitHub deployment protection rule's callback). `sync_report` takes one report one step forward: it runs in a Celery task, right after
the webhook and then from a beat task, and its failures are retried (`RetryLater`) or, when the
platform refuses, end the report (`abandoned`, with the reason). Nothing here ever changes a job:
a platform that cannot be reached changes what it is told, never the verdict.

Calls go through `service.outbound` (short timeout, redirects refused: a token must not follow
one elsewhere, bounded answers). Errors name the call and the platform's status and error code,
never a token or a secret.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from service import outbound
from service.backoff import backoff_seconds
from service.config.records import Config
from service.jobs.states import JobState, Verdict
from service.store import repository
from service.store.repository import Job

log = logging.getLogger(__name__)

# Short: a slow platform costs a worker slot, and the task tries again anyway.
TIMEOUT_SECONDS = 10.0
# A failed report is tried again after service.backoff's wait (base, doubling up to max), for a day at most.
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
GIVE_UP_AFTER = timedelta(days=1)
# Vercel marks a running v1 check stale after 5 minutes without an update: refresh well before.
# (A v2 check run does not go stale; it ends at its check's timeout.)
KEEP_FRESH_SECONDS = 120.0


class InvalidPayload(ValueError):
    """A signed delivery whose body is not what the platform documents; nothing is stored."""


# A delivery's names and ids: no control characters (C0, DEL, C1), as openapi.yaml's patterns say.
_PLAIN_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
# A header value GitHub sends (event names, delivery GUIDs): visible ASCII.
_HEADER_TEXT = re.compile(r"[\x21-\x7e]+")


def payload_text(value: Any, where: str, limit: int) -> str:
    """A non-empty string of at most `limit` characters without control characters, or InvalidPayload."""
    if not isinstance(value, str) or len(value) > limit or not _PLAIN_TEXT.fullmatch(value):
        raise InvalidPayload(f"{where}: must be a non-empty string of at most {limit} characters, none of them control characters")
    return value


def header_text(value: str | None, where: str, limit: int) -> str:
    """A header's non-empty value of at most `limit` visible ASCII characters, or InvalidPayload."""
    if value is None or len(value) > limit or not _HEADER_TEXT.fullmatch(value):
        raise InvalidPayload(f"{where}: must be 1 to {limit} visible ASCII characters")
    return value


class ApiUnavailable(Exception):
    """The platform could not take the call now (network, 429, 5xx, or credentials it refused):
    worth trying again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiRefused(Exception):
    """The platform refused the call for good (another 4xx, a redirect): trying again cannot help."""


class RetryLater(ApiUnavailable):
    """A report that failed now; the store says when it is due again (`retry_in` seconds)."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


# Statuses worth another try. 401 and 403 too: a token or key being rotated or given a missing
# permission must not lose the verdict owed; the report gives up after GIVE_UP_AFTER anyway.
_RETRYABLE = {401, 403, 408, 429}


def call_api(method: str, url: str, *, what: str, headers: Mapping[str, str], payload: Any = None) -> Any:
    """One JSON call: the parsed body of a 2xx (None when empty), else ApiUnavailable or ApiRefused (a redirect too)."""
    body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode("utf-8")
    sent_headers = {"Accept": "application/json", **headers}
    if body is not None:
        sent_headers["Content-Type"] = "application/json"
    try:
        response = outbound.request(method, url, headers=sent_headers, body=body, timeout=TIMEOUT_SECONDS)
    except (outbound.Unreachable, outbound.ResponseTooLarge) as error:
        raise ApiUnavailable(f"{what}: {error}") from None
    except outbound.UnusableUrl as error:
        raise ApiRefused(f"{what}: {error}") from None
    if 200 <= response.status < 300:
        if not response.body.strip():
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise ApiUnavailable(f"{what}: the answer ({response.status}) is not JSON") from None
    message = f"{what}: {response.status}{_error_code(response.body)}"
    if response.status in _RETRYABLE or response.status >= 500:
        raise ApiUnavailable(message, retry_after=response.retry_after)
    raise ApiRefused(message)


def _error_code(body: bytes) -> str:
    """What the platform's error body says, briefly (Vercel: error.code and message; GitHub: message)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        parts = [str(error.get(key)) for key in ("code", "message") if error.get(key)]
    else:
        parts = [str(data["message"])] if data.get("message") else []
    return f" ({': '.join(parts)[:200]})" if parts else ""


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """When a report that failed `attempts` times before is due again: the backoff, or later if the platform asked, within the max."""
    return max(backoff_seconds(attempts, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, floor=RETRY_BASE_SECONDS), min(retry_after or 0.0, RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class Receipt:
    """What a webhook delivery did; `to_dict` is the response body."""

    delivery: str
    event: str
    # accepted: a job was queued | duplicate: seen before, nothing done | recorded: noted on the
    # deployment's jobs | ignored: not for deploy-gate | not_checked: no migrations stored to check.
    status: str
    detail: str
    job_id: str | None = None
    # The job is new: the caller enqueues it after commit.
    run: bool = False
    # A report was opened for the job (its source): the caller starts syncing it after commit.
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"delivery": self.delivery, "event": self.event, "status": self.status, "detail": self.detail, "job_id": self.job_id}


def verdict_passed(job: Job) -> bool:
    """Only a finished job with a `proceed` verdict lets a deployment through."""
    return job.state is JobState.SUCCEEDED and job.verdict is Verdict.PROCEED


def verdict_outcome(job: Job) -> str:
    """How a finished job ended, in a word or three."""
    if job.state is JobState.CANCELED:
        return "canceled"
    if job.state is JobState.FAILED:
        return "could not check"
    return "proceed" if verdict_passed(job) else "blocked"


def verdict_summary(job: Job) -> str:
    """One line a platform shows: how the job ended and its first reason."""
    outcome = verdict_outcome(job)
    if outcome in ("proceed", "canceled") or not job.reasons:
        return outcome
    more = f" (and {len(job.reasons) - 1} more)" if len(job.reasons) > 1 else ""
    return f"{outcome}: {job.reasons[0]}{more}"


def sync_report(
    store: psycopg.Connection,
    config: Config,
    job_id: str,
    source: str,
    *,
    keep_fresh_seconds: float = KEEP_FRESH_SECONDS,
) -> str:
    """Take one open report one step forward and say what was done.

    The report's row is locked for the duration (SKIP LOCKED: a second worker on the same report
    does nothing), so a check is never created twice. On ApiUnavailable the failure is recorded
    with when to try again and RetryLater is raised after the row is saved; on ApiRefused, or a day
    of failures, the report is abandoned with the reason.
    """
    from service.integrations import github, vercel  # they build on this module

    syncers = {vercel.SOURCE: vercel.sync_check, github.SOURCE: github.answer_rule}
    failure: RetryLater | None = None
    with store.transaction():
        report = repository.lock_integration_report(store, job_id, source)
        if report is None:
            return "nothing to do"
        job = repository.get_job(store, job_id)
        try:
            outcome = syncers[source](store, config.integrations, report, job, keep_fresh_seconds)
        except ApiRefused as error:
            repository.abandon_integration_report(store, job_id, source, reason=str(error))
            log.warning("integration_report_abandoned", extra=dict(job_id=job_id, source=source, error=str(error)))
            return "abandoned"
        except ApiUnavailable as error:
            if report.created_at < datetime.now(UTC) - GIVE_UP_AFTER:
                repository.abandon_integration_report(store, job_id, source, reason=f"gave up after a day: {error}")
                log.warning("integration_report_gave_up", extra=dict(job_id=job_id, source=source, error=str(error)))
                return "abandoned"
            delay = retry_delay(report.attempts, error.retry_after)
            repository.report_failed(store, job_id, source, error=str(error), retry_in_seconds=delay)
            log.info("integration_report_retry", extra=dict(job_id=job_id, source=source, error=str(error), retry_in_seconds=delay))
            failure = RetryLater(str(error), delay)
    if failure is not None:
        raise failure
    log.info("integration_report_synced", extra=dict(job_id=job_id, source=source, outcome=outcome))
    return outcome
