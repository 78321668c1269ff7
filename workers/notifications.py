"""Notifications from a worker: `notify` for the job runner, and the task that delivers the webhook.

`notify(kind, job, **details)` puts a `deploy_gate.notify` task on the broker and returns: the job
never waits on the receiver, and a broker error is logged, not raised. The task runs on the app's
default queue (`service.config.settings.TASK_QUEUE`, beside the jobs), looks the webhook up in this worker's
configuration (the URL and key never travel through the broker) and posts once per attempt:
2xx delivered, 429/5xx/network errors retried with the project's backoff (`service.backoff`:
Celery's exponential backoff with jitter, never sooner than the first wait), any other 4xx (or a
redirect) given up. Retries are explicit rather than `autoretry_for`, so a receiver's
`Retry-After` is honoured and the backoff may be under a second in tests. The outcome (delivered,
rejected, gave up, dropped) is journaled on the job, which has usually ended by then: its report
counts the team as notified only on a journaled delivery.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from celery import Task, shared_task

from service.backoff import backoff_seconds
from service.notifications import Delivery, DeliveryFailed, DeliveryRejected, deliver, make_notifier
from service.store import repository
from workers import state

log = logging.getLogger(__name__)

NOTIFY_TASK = "deploy_gate.notify"
MAX_RETRIES = 8
# Attempt n+1 waits between base and min(max, base * 2**n): about 8.5 minutes in all at most.
RETRY_BACKOFF_SECONDS = 2.0
RETRY_BACKOFF_MAX_SECONDS = 300.0
# Publishing is retried briefly: the job is waiting on this call.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue_notification(event: dict[str, Any]) -> None:
    from workers.celery_app import celery

    celery.send_task(NOTIFY_TASK, args=[event], retry=True, retry_policy=_PUBLISH_RETRY)


# The job runner's notifier in a worker: never raises, never blocks on the receiver.
notify = make_notifier(state.config, enqueue_notification)


@shared_task(name=NOTIFY_TASK, bind=True, max_retries=None, ignore_result=True)
def deliver_notification(self: Task[[dict[str, Any]], str], event: dict[str, Any]) -> str:
    ids = {"notification": event.get("event"), "job_id": event.get("job_id"), "delivery_id": event.get("delivery_id")}
    attempt = self.request.retries + 1
    webhook = state.config().notifications.for_target(event.get("target", ""))
    if webhook is None or event.get("event") not in webhook.events:
        log.info("notification_dropped", extra=dict(reason="no longer configured for this target", **ids))
        return _journal(event, Delivery.DROPPED, reason="no webhook for this target and kind where it was delivered")
    try:
        status = deliver(webhook, event)
    except DeliveryRejected as error:
        log.warning("notification_rejected", extra=dict(status=error.status, attempt=attempt, **ids))
        return _journal(event, Delivery.REJECTED, status=error.status, attempt=attempt)
    except DeliveryFailed as error:
        if self.request.retries >= MAX_RETRIES:
            log.warning("notification_gave_up", extra=dict(error=str(error), attempt=attempt, **ids))
            return _journal(event, Delivery.GAVE_UP, status=error.status, error=str(error), attempt=attempt)
        backoff = backoff_seconds(self.request.retries, RETRY_BACKOFF_SECONDS, RETRY_BACKOFF_MAX_SECONDS, floor=RETRY_BACKOFF_SECONDS)
        countdown = max(backoff, min(error.retry_after or 0.0, RETRY_BACKOFF_MAX_SECONDS))
        log.info("notification_retry", extra=dict(error=str(error), attempt=attempt, retry_in_seconds=round(countdown, 3), **ids))
        raise self.retry(countdown=countdown) from None
    log.info("notification_delivered", extra=dict(status=status, attempt=attempt, **ids))
    return _journal(event, Delivery.DELIVERED, status=status, attempt=attempt)


def _journal(event: dict[str, Any], outcome: Delivery, **details: Any) -> str:
    """The outcome, on the job's journal. A store that cannot take it is logged, not retried: the delivery is over."""
    try:
        with state.store() as store:
            repository.record_notification_outcome(
                store, event["job_id"], notification=event["event"], delivery_id=event.get("delivery_id"), outcome=outcome.value, **details
            )
    except (psycopg.Error, repository.JobNotFound) as error:
        ids = {"job_id": event.get("job_id"), "delivery_id": event.get("delivery_id")}
        log.warning("notification_not_journaled", extra=dict(outcome=outcome, error=type(error).__name__, **ids))
    return outcome.value
