"""Thin tasks: take a job id, run the domain, retry on infrastructure errors."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Task, shared_task

from service.analysis.lint import lint_migrations
from service.backoff import backoff_seconds
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

# A job queued for this long without a worker taking it lost its message. A running job that no
# worker holds (between a deferral's runs), quiet for this long, lost its deferred message; a job a
# worker holds is resumed when that worker's heartbeat goes stale (workers.liveness).
QUEUED_GRACE_SECONDS = 60
RUNNING_GRACE_SECONDS = 15 * 60


def _lint(local: LocalMigrations, severities: dict[str, str], prisma_version: int) -> list[dict[str, Any]]:
    return [finding.to_dict() for finding in lint_migrations(local, severities, prisma_version=prisma_version)]


@shared_task(name=RUN_JOB_TASK, bind=True, max_retries=20)
def run_job_task(self: Task[[str], str], job_id: str) -> str:
    # Follow-ups and deferred runs travel like this job: the same app, the same queue. They are
    # sent once this worker's claim on the job is released (the `running` block), so the worker
    # that takes them is free to run it.
    broker = Broker(self.app)
    try:
        with liveness.running(job_id) as runs_it_already, state.store() as store:
            if runs_it_already is not None:
                # A live worker runs this job now: running it here too would run its steps twice at once.
                # This message (a redelivery) looks again once that worker's heartbeat would have gone
                # stale: then the job has ended, or its worker died and this message resumes it.
                raise Deferred(state.settings().worker_stale_seconds, f"it runs on worker {runs_it_already}, which is alive")
            job = run_job(store, state.config(), job_id, linter=_lint, enqueue=broker.enqueue, notify=notify)
    except RetryableError as error:
        log.warning("job %s will retry: %s", job_id, error, extra={"job_id": job_id})
        # Celery's exponential backoff with full jitter: 5 s doubling, at most 5 minutes.
        raise self.retry(countdown=backoff_seconds(self.request.retries, first=5, maximum=300)) from None
    except JobNotFound:
        # A message for a job this store does not hold (another deployment's, or a stale
        # queue): nothing to run, nothing to retry.
        log.warning("job %s is not in the store; message dropped", job_id, extra={"job_id": job_id})
        return "unknown"
    except Deferred as waiting:
        # A wait is not a failure: a fresh message, so it never uses up the retries.
        log.info("job %s waits %.0f s: %s", job_id, waiting.seconds, waiting.reason, extra={"job_id": job_id})
        broker.enqueue(job_id, countdown=waiting.seconds)
        return "deferred"
    return job.state.value


@shared_task(name="deploy_gate.reconcile", bind=True)
def reconcile(self: Task[[], int]) -> int:
    """Resume jobs whose worker died, re-enqueue jobs whose message was lost."""
    with state.store() as store:
        orphaned = repository.release_orphaned_jobs(store, fresh_within_seconds=state.settings().worker_stale_seconds)
        stale = repository.stale_jobs(store, queued_for_seconds=QUEUED_GRACE_SECONDS, running_quiet_for_seconds=RUNNING_GRACE_SECONDS)
    for dead in orphaned:
        log.warning("reconciler resumes job %s: its worker %s stopped", dead.job_id, dead.worker_id, extra={"job_id": dead.job_id})
    for job in stale:
        log.info(
            "reconciler re-enqueues %s job %s (%s)",
            job.kind.value,
            job.id,
            job.state.value,
            extra={"job_id": job.id, "kind": job.kind.value, "target": job.target},
        )
    resumed = [dead.job_id for dead in orphaned]
    Broker(self.app).enqueue(*resumed, *(job.id for job in stale if job.state in (JobState.QUEUED, JobState.RUNNING) and job.id not in resumed))
    return len(orphaned) + len(stale)


PRUNE_STORE_TASK = "deploy_gate.prune_store"


@shared_task(name=PRUNE_STORE_TASK, ignore_result=True)
def prune_store() -> int:
    """Delete what the targets file's [retention] no longer keeps, in short batches (service.retention)."""
    with state.store() as store:
        pruned = prune_store_rows(store, state.config().retention)
    log.info("retention pruned %s", pruned.describe(), extra={"pruned": asdict(pruned)})
    return pruned.jobs + pruned.deliveries + pruned.bundles
