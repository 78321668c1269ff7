"""Worker liveness: each worker process's heartbeat, and which worker is running a job right now.

A heartbeat is the store's clock (`now()`), compared with the store's clock, so the machines'
clocks never matter. A worker without a row is as dead as one whose heartbeat is old: a worker
that stops cleanly deletes its row, and old rows are pruned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import psycopg

from service.store.repository.job_ids import require_job_id
from service.store.repository.journal import insert_event, notify

# The condition "the worker named by job.worker_id has a fresh heartbeat", for a `fresh` parameter in seconds.
_WORKER_ALIVE = (
    'EXISTS (SELECT 1 FROM "worker" WHERE "worker"."id" = "job"."worker_id" AND "worker"."heartbeat_at" >= now() - make_interval(secs => %(fresh)s))'
)


def record_heartbeat(conn: psycopg.Connection, worker_id: str, *, hostname: str, pid: int) -> None:
    """This worker is alive now."""
    conn.execute(
        'INSERT INTO "worker" ("id", "hostname", "pid") VALUES (%s, %s, %s) ON CONFLICT ("id") DO UPDATE SET "heartbeat_at" = now()',
        (worker_id, hostname, pid),
    )


def forget_worker(conn: psycopg.Connection, worker_id: str) -> None:
    """A worker that stops cleanly is gone at once (its jobs' claims were released as their tasks ended)."""
    conn.execute('DELETE FROM "worker" WHERE "id" = %s', (worker_id,))


def prune_workers(conn: psycopg.Connection, *, silent_for_seconds: float) -> int:
    """Delete the rows of workers silent this long (a dead worker's row says nothing its absence does not)."""
    cursor = conn.execute('DELETE FROM "worker" WHERE "heartbeat_at" < now() - make_interval(secs => %s)', (silent_for_seconds,))
    return cursor.rowcount


def live_workers(conn: psycopg.Connection, *, fresh_within_seconds: float) -> int:
    """How many workers recorded a heartbeat within the last `fresh_within_seconds`."""
    row = conn.execute('SELECT count(*) FROM "worker" WHERE "heartbeat_at" >= now() - make_interval(secs => %s)', (fresh_within_seconds,)).fetchone()
    return int(row[0]) if row else 0


def claim_job(conn: psycopg.Connection, job_id: str, worker_id: str, *, fresh_within_seconds: float) -> str | None:
    """Name `worker_id` as the worker running the job, unless another live worker runs it.

    Returns None when this worker may run the job (it holds the claim now, or the job does not
    exist, which the runner reports), else the id of the live worker that runs it. One UPDATE, so
    of two workers claiming at once, the second sees the first's claim.
    """
    require_job_id(job_id)
    claimed = conn.execute(
        f'UPDATE "job" SET "worker_id" = %(me)s WHERE "id" = %(job)s AND ("worker_id" IS NULL OR "worker_id" = %(me)s OR NOT {_WORKER_ALIVE}) RETURNING "id"',
        {"me": worker_id, "job": job_id, "fresh": fresh_within_seconds},
    ).fetchone()
    if claimed is not None:
        return None
    holder = conn.execute('SELECT "worker_id" FROM "job" WHERE "id" = %s', (job_id,)).fetchone()
    return str(holder[0]) if holder is not None and holder[0] is not None else None


def release_job(conn: psycopg.Connection, job_id: str, worker_id: str) -> None:
    """The worker's task for the job ended (finished, deferred, retrying or waiting for a person)."""
    conn.execute('UPDATE "job" SET "worker_id" = NULL WHERE "id" = %s AND "worker_id" = %s', (job_id, worker_id))


def release_jobs_except(conn: psycopg.Connection, worker_id: str, running: Collection[str]) -> int:
    """Release the worker's claims on jobs it is not running (a release its task could not write)."""
    cursor = conn.execute('UPDATE "job" SET "worker_id" = NULL WHERE "worker_id" = %s AND NOT ("id" = ANY(%s::uuid[]))', (worker_id, list(running)))
    return cursor.rowcount


@dataclass(frozen=True)
class OrphanedJob:
    """A running job whose worker died: its last heartbeat (None: no row) was that many seconds ago;
    its message is `due` now (job_messages)."""

    job_id: str
    worker_id: str
    silent_seconds: float | None
    due: datetime


def release_orphaned_jobs(conn: psycopg.Connection, *, fresh_within_seconds: float) -> list[OrphanedJob]:
    """Take running jobs away from workers whose heartbeat is older than `fresh_within_seconds`, and
    journal why, in one transaction; the caller enqueues them again.

    Released, a job has no worker and its message is due now, so the next pass does not find it
    again; if its new message were lost, job_messages.resend_lost_messages finds it.
    """
    with conn.transaction():
        rows = conn.execute(
            'UPDATE "job" SET "worker_id" = NULL, "updated_at" = now(), "next_run_at" = now() FROM "job" AS "old"'
            ' LEFT JOIN "worker" ON "worker"."id" = "old"."worker_id"'
            ' WHERE "job"."id" = "old"."id" AND "job"."state" = \'running\' AND "job"."worker_id" IS NOT NULL'
            f" AND NOT {_WORKER_ALIVE}"
            ' RETURNING "job"."id", "old"."worker_id", extract(epoch FROM now() - "worker"."heartbeat_at")::float, "job"."next_run_at"',
            {"fresh": fresh_within_seconds},
        ).fetchall()
        orphaned = [OrphanedJob(str(job_id), str(worker_id), silent, due) for job_id, worker_id, silent, due in rows]
        for job in orphaned:
            silent = f"no heartbeat for {job.silent_seconds:.0f} s" if job.silent_seconds is not None else "it is gone"
            message = f"worker {job.worker_id} stopped ({silent}); the job resumes on another worker, skipping the steps it finished"
            insert_event(conn, job.job_id, "note", data={"message": message, "worker": job.worker_id})
            notify(conn, job.job_id)
    return orphaned
