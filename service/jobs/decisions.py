"""What a person decides about a job: approve or reject the plan it waits with, or cancel it.

The API's views and the console's forms both call these, with the signed-in token's name as `by`.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from service.jobs.runner import hand_verdict_to_parent
from service.jobs.states import JobState
from service.store import repository
from service.store.repository import Job


def approve(conn: psycopg.Connection, job_id: str, by: str, comment: str | None, enqueue: Callable[..., None]) -> Job:
    """The job goes back to running; its task is enqueued (after commit) to carry on."""
    job = repository.record_approval(conn, job_id, approved=True, by=by, comment=comment)
    enqueue(job.id)
    return job


def reject(conn: psycopg.Connection, job_id: str, by: str, comment: str | None) -> Job:
    """The job ends blocked, and hands that verdict to the deploy job that started it, if any."""
    reason = f"rejected by {by}" + (f": {comment}" if comment else "")
    job = repository.record_approval(conn, job_id, approved=False, by=by, comment=comment, reasons=[reason])
    hand_verdict_to_parent(conn, job)
    return job


def cancel(conn: psycopg.Connection, job_id: str, by: str) -> Job:
    return repository.transition(conn, job_id, JobState.CANCELED, data={"by": by})
