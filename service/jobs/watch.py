"""Wait for a job to change, woken by the store's NOTIFY rather than by polling."""

from __future__ import annotations

import time

import psycopg

from service.store import repository
from service.store.repository import JOB_CHANNEL, Job


def wait_for_change(conn: psycopg.Connection, job: Job, timeout: float) -> Job:
    """The job as soon as its state, verdict or journal moves on, or as it is after `timeout`."""
    deadline = time.monotonic() + timeout
    conn.execute(f"LISTEN {JOB_CHANNEL}")
    try:
        # Read again after LISTEN: a change committed in between would otherwise be missed.
        current = repository.get_job(conn, job.id)
        while not _changed(job, current):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # The generator holds the connection while it runs: collect, then query after it ends.
            payloads = [notification.payload for notification in conn.notifies(timeout=remaining, stop_after=1)]
            if job.id in payloads:
                current = repository.get_job(conn, job.id)
        return current
    finally:
        conn.execute(f"UNLISTEN {JOB_CHANNEL}")


def _changed(before: Job, after: Job) -> bool:
    return (before.state, before.verdict, before.updated_at) != (after.state, after.verdict, after.updated_at)
