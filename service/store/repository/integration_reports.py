"""Verdicts owed to the platforms (the integration_report table): opened with a job, reported, retried, closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class IntegrationReport:
    """A job's verdict owed to a platform (see the integration_report table)."""

    job_id: str
    source: str
    subject: str
    remote_id: str | None
    details: dict[str, Any]
    status: str
    reported_state: str | None
    reported_at: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime


# The job id is a uuid column; the record carries it as text, like every job id.
_REPORT_COLUMNS = (
    '"job_id"::text AS "job_id", "source", "subject", "remote_id", "details", "status", "reported_state", "reported_at", "attempts", "last_error", "created_at"'
)


def _one_report(conn: psycopg.Connection, query: str, params: tuple[object, ...]) -> IntegrationReport | None:
    with conn.cursor(row_factory=class_row(IntegrationReport)) as cursor:
        return cursor.execute(query, params).fetchone()


def open_integration_report(
    conn: psycopg.Connection, *, job_id: str, source: str, subject: str, remote_id: str | None = None, details: dict[str, Any] | None = None
) -> bool:
    """Owe a platform this job's verdict; False when the job already has a report for that source."""
    row = conn.execute(
        'INSERT INTO "integration_report" ("job_id", "source", "subject", "remote_id", "details") VALUES (%s, %s, %s, %s, %s)'
        " ON CONFLICT DO NOTHING RETURNING 1",
        (job_id, source, subject, remote_id, Jsonb(details or {})),
    ).fetchone()
    return row is not None


def get_integration_report(conn: psycopg.Connection, job_id: str, source: str) -> IntegrationReport | None:
    return _one_report(conn, f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "job_id" = %s AND "source" = %s', (job_id, source))


def lock_integration_report(conn: psycopg.Connection, job_id: str, source: str) -> IntegrationReport | None:
    """An open report, locked until the caller's transaction ends; None if closed, or busy elsewhere."""
    return _one_report(
        conn,
        f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "job_id" = %s AND "source" = %s AND "status" = \'open\' FOR UPDATE SKIP LOCKED',
        (job_id, source),
    )


def report_progress(conn: psycopg.Connection, job_id: str, source: str, *, reported_state: str, remote_id: str | None = None, done: bool = False) -> None:
    """The platform now knows `reported_state`; a done report is closed. Clears past failures."""
    conn.execute(
        'UPDATE "integration_report" SET "reported_state" = %s, "remote_id" = COALESCE(%s, "remote_id"), "reported_at" = now(),'
        ' "status" = CASE WHEN %s THEN \'done\' ELSE "status" END, "attempts" = 0, "last_error" = NULL, "retry_at" = NULL,'
        ' "updated_at" = now() WHERE "job_id" = %s AND "source" = %s',
        (reported_state, remote_id, done, job_id, source),
    )


def report_failed(conn: psycopg.Connection, job_id: str, source: str, *, error: str, retry_in_seconds: float) -> None:
    """A failed attempt: counted, its error kept, and no scheduled retry before `retry_in_seconds`."""
    conn.execute(
        'UPDATE "integration_report" SET "attempts" = "attempts" + 1, "last_error" = %s,'
        ' "retry_at" = now() + make_interval(secs => %s), "updated_at" = now() WHERE "job_id" = %s AND "source" = %s',
        (error, retry_in_seconds, job_id, source),
    )


def abandon_integration_report(conn: psycopg.Connection, job_id: str, source: str, *, reason: str) -> None:
    """Stop reporting (the platform refused, or the deployment ended): the reason stays on the row."""
    conn.execute(
        'UPDATE "integration_report" SET "status" = \'abandoned\', "last_error" = %s, "retry_at" = NULL, "updated_at" = now()'
        ' WHERE "job_id" = %s AND "source" = %s AND "status" = \'open\'',
        (reason, job_id, source),
    )


def open_reports_about(conn: psycopg.Connection, source: str, subject: str) -> list[IntegrationReport]:
    with conn.cursor(row_factory=class_row(IntegrationReport)) as cursor:
        return cursor.execute(
            f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "source" = %s AND "subject" = %s AND "status" = \'open\' ORDER BY "created_at"',
            (source, subject),
        ).fetchall()


def latest_report_about(conn: psycopg.Connection, source: str, subject: str) -> IntegrationReport | None:
    """The newest report on a subject (a Vercel deployment: its check job's, or a rerequest's), whatever its status."""
    return _one_report(
        conn,
        f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "source" = %s AND "subject" = %s ORDER BY "created_at" DESC LIMIT 1',
        (source, subject),
    )


def latest_report_for_remote(conn: psycopg.Connection, source: str, remote_id: str) -> IntegrationReport | None:
    """The newest report on a platform's object (a Vercel check is reported again when re-requested)."""
    return _one_report(
        conn,
        f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "source" = %s AND "remote_id" = %s ORDER BY "created_at" DESC LIMIT 1',
        (source, remote_id),
    )


def defer_integration_report(conn: psycopg.Connection, job_id: str, source: str, *, until: datetime) -> None:
    """Not due before `until` (a Vercel report waiting for its check run to be announced); no attempt is counted."""
    conn.execute('UPDATE "integration_report" SET "retry_at" = %s, "updated_at" = now() WHERE "job_id" = %s AND "source" = %s', (until, job_id, source))


def due_integration_reports(conn: psycopg.Connection, *, fresh_seconds: float, limit: int = 200) -> list[tuple[str, str]]:
    """(job id, source) of open reports with something to tell: a job that has ended; a Vercel v1
    check not created yet, not running yet or about to go stale; a Vercel v2 report with no check
    run yet, or with a run not told it runs. Reports waiting out a retry are left."""
    rows = conn.execute(
        'SELECT "r"."job_id", "r"."source" FROM "integration_report" "r" JOIN "job" "j" ON "j"."id" = "r"."job_id"'
        ' WHERE "r"."status" = \'open\' AND ("r"."retry_at" IS NULL OR "r"."retry_at" <= now())'
        " AND (\"j\".\"state\" IN ('succeeded', 'failed', 'canceled')"
        ' OR ("r"."source" = \'vercel\' AND COALESCE("r"."details" ->> \'checks_api\', \'v1\') = \'v1\' AND ("r"."remote_id" IS NULL'
        ' OR "r"."reported_state" IS DISTINCT FROM \'running\' OR "r"."reported_at" < now() - make_interval(secs => %s)))'
        ' OR ("r"."source" = \'vercel\' AND "r"."details" ->> \'checks_api\' = \'v2\' AND ("r"."remote_id" IS NULL OR EXISTS ('
        'SELECT 1 FROM "vercel_check_run" "c" WHERE "c"."job_id" = "r"."job_id" AND "c"."status" = \'open\' AND "c"."reported_state" IS NULL))))'
        ' ORDER BY "r"."created_at" LIMIT %s',
        (fresh_seconds, limit),
    ).fetchall()
    return [(str(job_id), str(source)) for job_id, source in rows]
