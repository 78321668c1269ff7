"""Webhook deliveries from the platforms: each seen once, with the deployment and the job it concerns."""

from __future__ import annotations

import psycopg


def remember_delivery(conn: psycopg.Connection, source: str, delivery_id: str, body_digest: str | None = None) -> bool:
    """True the first time a webhook delivery is seen: neither its id nor, when given, the digest of
    its signed body was seen before. False for a redelivery or a replay."""
    row = conn.execute(
        'INSERT INTO "webhook_delivery" ("source", "delivery_id", "body_digest") VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1',
        (source, delivery_id, body_digest),
    ).fetchone()
    return row is not None


def first_delivery(conn: psycopg.Connection, source: str, delivery_id: str, body_digest: str | None = None) -> tuple[str, str | None] | None:
    """The remembered delivery a redelivery or replay repeats (same id, or same body digest): its id and its job."""
    row = conn.execute(
        'SELECT "delivery_id", "job_id" FROM "webhook_delivery" WHERE "source" = %s AND ("delivery_id" = %s OR "body_digest" = %s)'
        ' ORDER BY "received_at" LIMIT 1',
        (source, delivery_id, body_digest),
    ).fetchone()
    return (str(row[0]), str(row[1]) if row[1] else None) if row else None


def link_delivery(conn: psycopg.Connection, source: str, delivery_id: str, job_id: str) -> None:
    conn.execute(
        'UPDATE "webhook_delivery" SET "job_id" = %s WHERE "source" = %s AND "delivery_id" = %s',
        (job_id, source, delivery_id),
    )


def describe_delivery(conn: psycopg.Connection, source: str, delivery_id: str, *, event: str, subject: str | None) -> None:
    """Record what a remembered webhook delivery was: its event type and the deployment it concerns."""
    conn.execute(
        'UPDATE "webhook_delivery" SET "event" = %s, "subject" = %s WHERE "source" = %s AND "delivery_id" = %s',
        (event, subject, source, delivery_id),
    )


def delivery_events(conn: psycopg.Connection, source: str, subject: str) -> set[str]:
    """The event types already received about a deployment (whatever order they came in)."""
    rows = conn.execute(
        'SELECT DISTINCT "event" FROM "webhook_delivery" WHERE "source" = %s AND "subject" = %s AND "event" IS NOT NULL',
        (source, subject),
    ).fetchall()
    return {str(row[0]) for row in rows}


def delivery_jobs(conn: psycopg.Connection, source: str, subject: str) -> list[str]:
    """The jobs that deliveries about a deployment started, oldest first."""
    rows = conn.execute(
        'SELECT "job_id" FROM "webhook_delivery" WHERE "source" = %s AND "subject" = %s AND "job_id" IS NOT NULL'
        ' GROUP BY "job_id" ORDER BY min("received_at"), "job_id"',
        (source, subject),
    ).fetchall()
    return [str(row[0]) for row in rows]


def delivery_job(conn: psycopg.Connection, source: str, delivery_id: str) -> str | None:
    """The job a remembered webhook delivery started, if any."""
    row = conn.execute('SELECT "job_id" FROM "webhook_delivery" WHERE "source" = %s AND "delivery_id" = %s', (source, delivery_id)).fetchone()
    return str(row[0]) if row and row[0] else None
