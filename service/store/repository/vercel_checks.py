"""Vercel Checks v2 in the store: each project's check (vercel_check) and the runs owed a status (vercel_check_run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class StoredCheck:
    project_id: str
    check_id: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class CheckRun:
    """A run of a project's check on a deployment (see the vercel_check_run table)."""

    run_id: str
    deployment_id: str
    check_id: str
    job_id: str | None
    skip_reason: str | None
    origin: str
    status: str
    reported_state: str | None
    conclusion: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


_RUN_COLUMNS = (
    '"run_id", "deployment_id", "check_id", "job_id"::text AS "job_id", "skip_reason", "origin", "status", "reported_state", "conclusion",'
    ' "attempts", "last_error", "created_at"'
)


def stored_check(conn: psycopg.Connection, project_id: str) -> StoredCheck | None:
    with conn.cursor(row_factory=class_row(StoredCheck)) as cursor:
        return cursor.execute('SELECT "project_id", "check_id", "definition" FROM "vercel_check" WHERE "project_id" = %s', (project_id,)).fetchone()


def lock_project_check(conn: psycopg.Connection, project_id: str) -> None:
    """Serialise finding or creating a project's check until the caller's transaction ends (two workers never create two)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"deploy-gate:vercel-check:{project_id}",))


def remember_check(conn: psycopg.Connection, project_id: str, check_id: str, definition: dict[str, Any]) -> None:
    conn.execute(
        'INSERT INTO "vercel_check" ("project_id", "check_id", "definition") VALUES (%s, %s, %s)'
        ' ON CONFLICT ("project_id") DO UPDATE SET "check_id" = EXCLUDED."check_id", "definition" = EXCLUDED."definition", "updated_at" = now()',
        (project_id, check_id, Jsonb(definition)),
    )


def forget_check(conn: psycopg.Connection, project_id: str) -> None:
    """The check is gone from Vercel: the next use finds or creates it again."""
    conn.execute('DELETE FROM "vercel_check" WHERE "project_id" = %s', (project_id,))


def _one_run(conn: psycopg.Connection, query: str, params: tuple[object, ...]) -> CheckRun | None:
    with conn.cursor(row_factory=class_row(CheckRun)) as cursor:
        return cursor.execute(query, params).fetchone()


def _runs(conn: psycopg.Connection, query: str, params: tuple[object, ...]) -> list[CheckRun]:
    with conn.cursor(row_factory=class_row(CheckRun)) as cursor:
        return cursor.execute(query, params).fetchall()


def add_check_run(
    conn: psycopg.Connection,
    *,
    run_id: str,
    deployment_id: str,
    check_id: str,
    origin: str,
    job_id: str | None = None,
    skip_reason: str | None = None,
) -> bool:
    """Owe a run a status; False when the run is known already."""
    row = conn.execute(
        'INSERT INTO "vercel_check_run" ("run_id", "deployment_id", "check_id", "job_id", "skip_reason", "origin") VALUES (%s, %s, %s, %s, %s, %s)'
        ' ON CONFLICT ("run_id") DO NOTHING RETURNING 1',
        (run_id, deployment_id, check_id, job_id, skip_reason, origin),
    ).fetchone()
    return row is not None


def get_check_run(conn: psycopg.Connection, run_id: str) -> CheckRun | None:
    return _one_run(conn, f'SELECT {_RUN_COLUMNS} FROM "vercel_check_run" WHERE "run_id" = %s', (run_id,))


def runs_of_job(conn: psycopg.Connection, job_id: str) -> list[CheckRun]:
    return _runs(conn, f'SELECT {_RUN_COLUMNS} FROM "vercel_check_run" WHERE "job_id" = %s ORDER BY "created_at", "run_id"', (job_id,))


def runs_of_deployment(conn: psycopg.Connection, deployment_id: str) -> list[CheckRun]:
    return _runs(conn, f'SELECT {_RUN_COLUMNS} FROM "vercel_check_run" WHERE "deployment_id" = %s ORDER BY "created_at", "run_id"', (deployment_id,))


def reassign_check_run(conn: psycopg.Connection, run_id: str, *, job_id: str | None, skip_reason: str | None = None) -> None:
    """The run carries another job's verdict from now on (a rerequest), or is to be skipped: open again, nothing told yet."""
    conn.execute(
        'UPDATE "vercel_check_run" SET "job_id" = %s, "skip_reason" = %s, "status" = \'open\', "reported_state" = NULL, "conclusion" = NULL,'
        ' "attempts" = 0, "last_error" = NULL, "retry_at" = NULL, "updated_at" = now() WHERE "run_id" = %s',
        (job_id, skip_reason, run_id),
    )


def claim_check_runs(conn: psycopg.Connection, deployment_id: str, job_id: str) -> int:
    """The deployment's job takes the runs announced before it was made; how many."""
    return conn.execute(
        'UPDATE "vercel_check_run" SET "job_id" = %s, "updated_at" = now()'
        ' WHERE "deployment_id" = %s AND "job_id" IS NULL AND "skip_reason" IS NULL AND "status" = \'open\'',
        (job_id, deployment_id),
    ).rowcount


def skip_check_runs(conn: psycopg.Connection, deployment_id: str, reason: str) -> int:
    """No job will check the deployment: its unclaimed runs are to be concluded `skipped`; how many."""
    return conn.execute(
        'UPDATE "vercel_check_run" SET "skip_reason" = %s, "retry_at" = NULL, "updated_at" = now()'
        ' WHERE "deployment_id" = %s AND "job_id" IS NULL AND "skip_reason" IS NULL AND "status" = \'open\'',
        (reason, deployment_id),
    ).rowcount


def close_check_run(conn: psycopg.Connection, run_id: str, status: str, *, reason: str | None = None) -> bool:
    """No more reporting on an open run: canceled by Vercel, or abandoned (the reason stays); False if it was not open."""
    row = conn.execute(
        'UPDATE "vercel_check_run" SET "status" = %s, "last_error" = COALESCE(%s, "last_error"), "retry_at" = NULL, "updated_at" = now()'
        ' WHERE "run_id" = %s AND "status" = \'open\' RETURNING 1',
        (status, reason, run_id),
    ).fetchone()
    return row is not None


def close_deployment_runs(conn: psycopg.Connection, deployment_id: str, reason: str) -> int:
    """The deployment ended: none of its open runs is reported any more."""
    return conn.execute(
        'UPDATE "vercel_check_run" SET "status" = \'canceled\', "last_error" = %s, "retry_at" = NULL, "updated_at" = now()'
        ' WHERE "deployment_id" = %s AND "status" = \'open\'',
        (reason, deployment_id),
    ).rowcount


def run_reported(conn: psycopg.Connection, run_id: str, *, state: str, conclusion: str | None = None) -> None:
    """Vercel now knows `state` (a completed run is done). Clears past failures."""
    conn.execute(
        'UPDATE "vercel_check_run" SET "reported_state" = %s, "conclusion" = %s,'
        " \"status\" = CASE WHEN %s = 'completed' THEN 'done' ELSE \"status\" END,"
        ' "attempts" = 0, "last_error" = NULL, "retry_at" = NULL, "updated_at" = now() WHERE "run_id" = %s',
        (state, conclusion, state, run_id),
    )


def lock_jobless_run(conn: psycopg.Connection, run_id: str) -> CheckRun | None:
    """An open run with no job, locked until the caller's transaction ends; None if reported, claimed, or busy elsewhere."""
    return _one_run(
        conn,
        f'SELECT {_RUN_COLUMNS} FROM "vercel_check_run" WHERE "run_id" = %s AND "job_id" IS NULL AND "status" = \'open\' FOR UPDATE SKIP LOCKED',
        (run_id,),
    )


def jobless_run_failed(conn: psycopg.Connection, run_id: str, *, error: str, retry_in_seconds: float) -> None:
    conn.execute(
        'UPDATE "vercel_check_run" SET "attempts" = "attempts" + 1, "last_error" = %s, "retry_at" = now() + make_interval(secs => %s),'
        ' "updated_at" = now() WHERE "run_id" = %s',
        (error, retry_in_seconds, run_id),
    )


def defer_jobless_run(conn: psycopg.Connection, run_id: str, *, until: datetime) -> None:
    """Not due before `until` (a run waiting for deployment.created); no attempt is counted."""
    conn.execute('UPDATE "vercel_check_run" SET "retry_at" = %s, "updated_at" = now() WHERE "run_id" = %s', (until, run_id))


def due_jobless_runs(conn: psycopg.Connection, *, limit: int = 200) -> list[str]:
    """Open runs with no job that are due: to be skipped, or waiting for deployment.created no longer."""
    rows = conn.execute(
        'SELECT "run_id" FROM "vercel_check_run" WHERE "status" = \'open\' AND "job_id" IS NULL AND ("retry_at" IS NULL OR "retry_at" <= now())'
        ' ORDER BY "created_at" LIMIT %s',
        (limit,),
    ).fetchall()
    return [str(run_id) for (run_id,) in rows]
