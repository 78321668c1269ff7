"""The one way deploy-gate enqueues: a job's task sent by Celery's own client, on any broker.

The API (after a job's row has committed), the reconciler, a job's follow-ups and its deferred
runs (these two with the time the message is due, so that a late duplicate is dropped) all send
through `Broker.enqueue`: `send_task` on a producer from the app's pool, so a request reuses a
broker connection instead of opening one per publish, and the app's routing,
serializer and transport options (key prefixes, priorities, Sentinel, TLS) apply to every message.
The queue's depth comes from the broker through kombu, whichever broker it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import Celery

RUN_JOB_TASK = "deploy_gate.run_job"


class Broker:
    """deploy-gate's side of the broker, through one Celery app configured once (workers.celery_app)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.queue: str = app.conf.task_default_queue

    def enqueue(self, *job_ids: str, countdown: float | None = None, due: datetime | None = None) -> None:
        """Send each job's task, in this order, on one producer; with `countdown`, to run that many seconds from now.

        `due` is the time the store expects the message (job.next_run_at, see
        service.store.repository.job_messages): the task drops it if the job's has moved on since.
        """
        if not job_ids:
            return
        kwargs = {"due": due.isoformat()} if due is not None else {}
        with self.app.producer_or_acquire() as producer:
            for job_id in job_ids:
                self.app.send_task(RUN_JOB_TASK, args=[job_id], kwargs=kwargs, countdown=countdown, producer=producer)

    def waiting(self) -> int:
        """How many tasks wait in the queue; raises when the broker does not answer (readiness)."""
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0)
            # Declared as Celery declares it when it publishes (same arguments, so never a mismatch on
            # AMQP), not passively: kombu's Redis transport looks for a passive queue without the
            # transport's key prefix, and a queue nothing was ever sent to holds nothing anyway.
            # (kombu's stubs type the answer as the queue's name; it is the broker's declare-ok.)
            declared: Any = self.app.amqp.queues[self.queue](connection.default_channel).queue_declare()
            return int(declared.message_count)

    def close(self) -> None:
        """Release the app's pooled broker connections."""
        self.app.close()
