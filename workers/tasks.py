"""Thin tasks: take a job id, run the domain, retry on infrastructure errors."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from celery import Task, shared_task

from service.analysis.lint import lint_migrations
from service.backoff import backoff_seconds
from service.jobs.drift import start_due_drift_checks
from service.jobs.runner import Deferred, RetryableError, run_job
from service.jobs.states import JobState
from service.prisma.migrations import LocalMigrations
from service.retention import prune_store as prune_store_rows
from service.store import repository
from service.store.repository import JobNotFound
from workers import liveness, state
from workers.broker import RUN_JOB_TASK, Broker
from workers.notifications import notify

log = logging.getLogger(__name__)


def _lint(local: LocalMigrations, severities: dict[str, str], session_timeouts: frozenset[str], prisma_version: int) -> list[dict[str, Any]]:
    return [finding.to_dict() for finding in lint_migrations(local, severities, session_timeouts, prisma_version=prisma_version)]


@shared_task(name=RUN_JOB_TASK, bind=True, max_retries=20)
def run_job_task(self: Task[[str, str | None], str], job_id: str, due: str | None = None) -> str:
    # Follow-ups and deferred runs travel like this job: the same app, the same queue. They are
    # sent once this worker's claim on the job is released (the `running` block), so the worker
    # that takes them is free to run it. A deferred run, and a message the reconciler sent again,
    # carry the time they are `due` (job.next_run_at): one the job has moved on from is a duplicate.
    broker = Broker(self.app)
    try:
        if due is not None and not _is_current_message(job_id, due):
            log.info("job %s: a message due at %s dropped: another was sent since", job_id, due, extra={"job_id": job_id})
            return "duplicate"
        with liveness.running(job_id) as runs_it_already, state.store() as store:
            if runs_it_already is not None:
                # A live worker runs this job now: running it here too would run its steps twice at once.
                # This message (a redelivery) looks again once that worker's heartbeat would have gone
                # stale: then the job has ended, or its worker died and this message resumes it.
                raise Deferred(state.settings().worker_stale_seconds, f"it runs on worker {runs_it_already}, which is alive")
            job = run_job(store, state.config(), job_id, linter=_lint, enqueue=broker.enqueue, notify=notify)
            if job.state is JobState.RUNNING:
                # It waits for another job (its recover job), which moves it on in the store: no message is due.
                repository.expect_no_message(store, job_id)
    except RetryableError as error:
        log.warning("job %s will retry: %s", job_id, error, extra={"job_id": job_id})
        # Celery's exponential backoff with full jitter: 5 s doubling, at most 5 minutes.
        countdown = backoff_seconds(self.request.retries, first=5, maximum=300)
        retry_due = _expect_message(job_id, countdown)
        raise self.retry(countdown=countdown, kwargs={"due": retry_due.isoformat()} if retry_due else {}) from None
    except JobNotFound:
        # A message for a job this store does not hold (another deployment's, or a stale
        # queue): nothing to run, nothing to retry.
        log.warning("job %s is not in the store; message dropped", job_id, extra={"job_id": job_id})
        return "unknown"
    except Deferred as waiting:
        # A wait is not a failure: a fresh message, so it never uses up the retries.
        log.info("job %s waits %.0f s: %s", job_id, waiting.seconds, waiting.reason, extra={"job_id": job_id})
        broker.enqueue(job_id, countdown=waiting.seconds, due=_expect_message(job_id, waiting.seconds))
        return "deferred"
    return job.state.value


def _is_current_message(job_id: str, due: str) -> bool:
    with state.store() as store:
        return repository.is_current_message(store, job_id, datetime.fromisoformat(due))


def _expect_message(job_id: str, seconds: float) -> datetime | None:
    """Record when the job's next message is due, before it is sent: if the broker loses it, the reconciler sends it again."""
    with state.store() as store:
        return repository.expect_message(store, job_id, in_seconds=seconds)


@shared_task(name="deploy_gate.reconcile", bind=True)
def reconcile(self: Task[[], int]) -> int:
    """Resume jobs whose worker died, send again the messages the broker lost (a restart with an empty queue)."""
    settings = state.settings()
    with state.store() as store:
        orphaned = repository.release_orphaned_jobs(store, fresh_within_seconds=settings.worker_stale_seconds)
        lost = repository.resend_lost_messages(store, overdue_seconds=settings.lost_message_seconds)
    broker = Broker(self.app)
    for dead in orphaned:
        log.warning("reconciler resumes job %s: its worker %s stopped", dead.job_id, dead.worker_id, extra={"job_id": dead.job_id})
        broker.enqueue(dead.job_id, due=dead.due)
    for message in lost:
        log.warning(
            "reconciler sends job %s (%s) again: its message is %.0f s overdue",
            message.job_id,
            message.state.value,
            message.overdue_seconds,
            extra={"job_id": message.job_id},
        )
        broker.enqueue(message.job_id, due=message.due)
    return len(orphaned) + len(lost)


PRUNE_STORE_TASK = "deploy_gate.prune_store"


@shared_task(name=PRUNE_STORE_TASK, ignore_result=True)
def prune_store() -> int:
    """Delete what the targets file's [retention] no longer keeps, in short batches (service.retention)."""
    with state.store() as store:
        pruned = prune_store_rows(store, state.config().retention)
    log.info("retention pruned %s", pruned.describe(), extra={"pruned": asdict(pruned)})
    return pruned.jobs + pruned.deliveries + pruned.bundles


SCHEDULE_DRIFT_TASK = "deploy_gate.schedule_drift_checks"


@shared_task(name=SCHEDULE_DRIFT_TASK, bind=True, ignore_result=True)
def schedule_drift_checks(self: Task[[], int]) -> int:
    """Start the drift jobs whose `[targets.NAME.drift] schedule_minutes` is due (service.jobs.drift)."""
    with state.store() as store:
        started = start_due_drift_checks(store, state.config(), datetime.now(UTC))
    for job in started:
        log.info("drift check %s started on %s", job.id, job.target, extra={"job_id": job.id, "kind": job.kind.value, "target": job.target})
    # The rows have committed (autocommit): the messages can go.
    Broker(self.app).enqueue(*(job.id for job in started))
    return len(started)
