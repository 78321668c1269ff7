"""When each job's next task message is due (`job.next_run_at`): how the reconciler tells a message
the broker lost from one still to come, and how a task tells a late duplicate from the job's message.

A task that defers a job (a wait, a retry) records when its next message is due and sends that
message with the value; a job sent on to `running` (transition: its first run, an approval) is due
now; a task that leaves a job running with nothing to send (a deploy waiting for its recover job)
clears it. Running a job leaves the value alone, so the broker's redelivery of a message whose worker
died is still the job's. A running job that no worker holds, whose message is overdue by more than
the lost-message age, lost it (or its task ended without saying when it runs next): the reconciler
makes it due now (`resend_lost_messages`), journals why, and sends it again with that value. A
queued job is due since it was queued. A message whose value is no longer the job's (another was
sent since) is a duplicate: `is_current_message` says so, and its task drops it. All times are the
store's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from service.jobs.states import JobState
from service.store.repository.job_ids import require_job_id
from service.store.repository.journal import insert_event, notify


def expect_message(conn: psycopg.Connection, job_id: str, *, in_seconds: float) -> datetime | None:
    """The job's next message is due `in_seconds` from now: the time, which the message carries (None: no such job)."""
    require_job_id(job_id)
    row = conn.execute(
        'UPDATE "job" SET "next_run_at" = now() + make_interval(secs => %s) WHERE "id" = %s RETURNING "next_run_at"', (in_seconds, job_id)
    ).fetchone()
    return row[0] if row is not None else None


def expect_no_message(conn: psycopg.Connection, job_id: str) -> None:
    """No message is due for the job: it waits for another job (or a person), which moves it on in the store."""
    require_job_id(job_id)
    conn.execute('UPDATE "job" SET "next_run_at" = NULL WHERE "id" = %s AND "next_run_at" IS NOT NULL', (job_id,))


def is_current_message(conn: psycopg.Connection, job_id: str, due: datetime) -> bool:
    """Whether a message sent for `due` is still the job's: False once another was sent or started running it
    (and for a job the store does not hold, which the runner reports)."""
    require_job_id(job_id)
    row = conn.execute('SELECT "next_run_at" = %s FROM "job" WHERE "id" = %s', (due, job_id)).fetchone()
    return row is None or bool(row[0])


@dataclass(frozen=True)
class LostMessage:
    """A job whose message was not taken `overdue_seconds` after it was due; sent again for `due`."""

    job_id: str
    state: JobState
    overdue_seconds: float
    due: datetime


def resend_lost_messages(conn: psycopg.Connection, *, overdue_seconds: float) -> list[LostMessage]:
    """Find the queued jobs and the running jobs no worker holds whose message is more than
    `overdue_seconds` overdue, make each due now and journal why, in one transaction; the caller
    sends each message again. A job found here is not found again until its new message is overdue."""
    with conn.transaction():
        rows = conn.execute(
            """
            WITH "lost" AS (
                SELECT "id", greatest("updated_at", "next_run_at") AS "was_due" FROM "job"
                WHERE ("state" = 'queued' AND greatest("updated_at", "next_run_at") < now() - make_interval(secs => %(overdue)s))
                   OR ("state" = 'running' AND "worker_id" IS NULL AND "next_run_at" < now() - make_interval(secs => %(overdue)s))
                ORDER BY "created_at"
                FOR UPDATE SKIP LOCKED
            )
            UPDATE "job" SET "next_run_at" = now() FROM "lost" WHERE "job"."id" = "lost"."id"
            RETURNING "job"."id", "job"."state", extract(epoch FROM now() - "lost"."was_due")::float, "job"."next_run_at"
            """,
            {"overdue": overdue_seconds},
        ).fetchall()
        lost = [LostMessage(str(job_id), JobState(state), overdue, due) for job_id, state, overdue, due in rows]
        for message in lost:
            insert_event(
                conn,
                message.job_id,
                "note",
                data={
                    "message": f"no worker took this job's message {message.overdue_seconds:.0f} s after it was due"
                    " (the broker lost it, restarted empty say, or every worker is busy): sent again",
                    "overdue_seconds": round(message.overdue_seconds, 3),
                },
            )
            notify(conn, message.job_id)
    return lost
