"""The jobs' journal (the append-only job_event table) and the NOTIFY that announces each change.

A write to a job and the `NOTIFY deploy_gate_job` carrying its id commit together, so a long-polling
reader that LISTENs on the channel wakes only for what it can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from service.store.repository.job_ids import require_job_id

JOB_CHANNEL = "deploy_gate_job"
EVENT_COLUMNS = '"id", "job_id", "at", "kind", "step", "from_state", "to_state", "data"'


@dataclass(frozen=True)
class JobEvent:
    id: int
    job_id: str
    at: datetime
    kind: str
    step: str | None
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] = field(default_factory=dict)


def insert_event(
    conn: psycopg.Connection,
    job_id: str,
    kind: str,
    *,
    step: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        'INSERT INTO "job_event" ("job_id", "kind", "step", "from_state", "to_state", "data") VALUES (%s, %s, %s, %s, %s, %s)',
        (job_id, kind, step, from_state, to_state, Jsonb(data or {})),
    )


def notify(conn: psycopg.Connection, *job_ids: str) -> None:
    """Announce a change to jobs (their creation too) when the caller's transaction commits."""
    conn.execute("SELECT pg_notify(%s, id) FROM unnest(%s::text[]) AS id", (JOB_CHANNEL, list(job_ids)))


def listen_for_job_changes(conn: psycopg.Connection) -> None:
    """Subscribe an autocommit connection to the job ids that `notify` announces (read them with `conn.notifies()`)."""
    conn.execute(f"LISTEN {JOB_CHANNEL}")


def record_step(conn: psycopg.Connection, job_id: str, step: str, phase: str, data: dict[str, Any] | None = None) -> None:
    """Journal a step boundary: phase is started, finished or failed."""
    with conn.transaction():
        insert_event(conn, job_id, f"step_{phase}", step=step, data=data or {})
        conn.execute('UPDATE "job" SET "updated_at" = now() WHERE "id" = %s', (job_id,))
        notify(conn, job_id)


def record_note(conn: psycopg.Connection, job_id: str, data: dict[str, Any]) -> None:
    """Journal something that happened around a job without changing it (a platform's event)."""
    require_job_id(job_id)
    with conn.transaction():
        insert_event(conn, job_id, "note", data=data)
        notify(conn, job_id)


def record_notification_outcome(conn: psycopg.Connection, job_id: str, *, notification: str, delivery_id: str | None, outcome: str, **details: Any) -> None:
    """Journal what became of a notification about a job (service.notifications.Delivery).

    A note, so it is appended in any state, after the job ended too (a verdict's notification is
    delivered then), and changes neither the job's state nor its times.
    """
    record_note(conn, job_id, {"notification": notification, "delivery_id": delivery_id, "outcome": outcome, **details})


def job_events(conn: psycopg.Connection, job_id: str, after_id: int = 0) -> list[JobEvent]:
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            f'SELECT {EVENT_COLUMNS} FROM "job_event" WHERE "job_id" = %s AND "id" > %s ORDER BY "id"',
            (job_id, after_id),
        ).fetchall()
    return [JobEvent(**{**row, "job_id": str(row["job_id"])}) for row in rows]


def finished_steps(conn: psycopg.Connection, job_id: str) -> dict[str, dict[str, Any]]:
    """Steps already done for a job, with what they recorded, so a resumed job skips them."""
    rows = conn.execute(
        'SELECT "step", "data" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' ORDER BY "id"',
        (job_id,),
    ).fetchall()
    return {step: data for step, data in rows}


def count_finished_steps(conn: psycopg.Connection, job_id: str, prefix: str) -> int:
    row = conn.execute(
        'SELECT count(*) FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' AND starts_with("step", %s)',
        (job_id, prefix),
    ).fetchone()
    return int(row[0]) if row else 0


def step_finished_at(conn: psycopg.Connection, job_id: str, step: str) -> datetime | None:
    row = conn.execute(
        'SELECT "at" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' AND "step" = %s ORDER BY "id" LIMIT 1',
        (job_id, step),
    ).fetchone()
    return row[0] if row else None


def approval_for(conn: psycopg.Connection, job_id: str, step: str) -> dict[str, Any] | None:
    """The latest approval decision recorded for a step of a job, with its time."""
    row = conn.execute(
        'SELECT "data", "at" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'approval\' AND "step" = %s ORDER BY "id" DESC LIMIT 1',
        (job_id, step),
    ).fetchone()
    return {**row[0], "at": row[1].isoformat()} if row else None


def step_durations(conn: psycopg.Connection) -> list[tuple[str, float]]:
    """Average seconds from a step's start to its end over the last day, by step kind."""
    rows = conn.execute(
        """
        SELECT split_part(s."step", ':', 1), avg(extract(epoch FROM f."at" - s."at"))::float
        FROM "job_event" s
        JOIN "job_event" f ON f."job_id" = s."job_id" AND f."step" = s."step" AND f."kind" = 'step_finished'
        WHERE s."kind" = 'step_started' AND s."at" > now() - interval '1 day'
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    return [(str(step), float(seconds)) for step, seconds in rows]
