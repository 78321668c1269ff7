"""Retention: deleting, one small batch per call, what the store no longer needs to keep.

Each call is its own short transaction on an autocommit connection, so no lock is held longer than a
batch of `limit` rows takes; rows another transaction holds a lock on are skipped (SKIP LOCKED) and
left for a later batch. `service.retention` calls these until a batch finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class PrunedJobs:
    """What one batch of finished jobs took with it."""

    jobs: int = 0
    events: int = 0  # their journals, approvals included
    reports: int = 0  # the verdicts they owed the platforms


# A finished job may go once it ended `days` ago, unless:
# - a job it started (its child) is still there: children go first, so a parent follows in a later
#   batch, and one whose child is kept is kept with it;
# - it is its target's newest job that carried a bundle: `latest_bundle_digest` finds the bundle a
#   deploy without migrations (and a webhook check) reuses through that job. Jobs created in one
#   statement share created_at, so all the newest are kept, whichever that lookup picks.
# Deliveries that started a job forget it (their ids still recognise a redelivery until they go).
_PRUNE_JOBS = """
WITH "doomed" AS (
    SELECT "id" FROM "job"
    WHERE "state" IN ('succeeded', 'failed', 'canceled') AND "finished_at" < now() - make_interval(days => %(days)s)
      AND NOT EXISTS (SELECT 1 FROM "job" AS "child" WHERE "child"."parent_id" = "job"."id")
      AND ("bundle_digest" IS NULL OR "created_at" < (
          SELECT max("newest"."created_at") FROM "job" AS "newest" WHERE "newest"."target" = "job"."target" AND "newest"."bundle_digest" IS NOT NULL
      ))
    ORDER BY "finished_at"
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), "event" AS (
    DELETE FROM "job_event" WHERE "job_id" IN (SELECT "id" FROM "doomed") RETURNING 1
), "report" AS (
    DELETE FROM "integration_report" WHERE "job_id" IN (SELECT "id" FROM "doomed") RETURNING 1
), "delivery" AS (
    UPDATE "webhook_delivery" SET "job_id" = NULL WHERE "job_id" IN (SELECT "id" FROM "doomed") RETURNING 1
), "pruned" AS (
    DELETE FROM "job" WHERE "id" IN (SELECT "id" FROM "doomed") RETURNING 1
)
SELECT (SELECT count(*) FROM "pruned"), (SELECT count(*) FROM "event"), (SELECT count(*) FROM "report"), (SELECT count(*) FROM "delivery")
"""


def prune_finished_jobs(conn: psycopg.Connection, *, days: int, limit: int) -> PrunedJobs:
    """Delete up to `limit` jobs that ended more than `days` ago, with their journals and reports.

    A job still queued, running or waiting for approval is never deleted, whatever its age."""
    with conn.transaction():
        # The journal's append-only trigger lets this transaction, and only it, delete events.
        conn.execute("SET LOCAL deploy_gate.retention = 'on'")
        row = conn.execute(_PRUNE_JOBS, {"days": days, "limit": limit}).fetchone()
    assert row is not None  # an aggregate always answers one row
    jobs, events, reports, _forgotten = row
    return PrunedJobs(int(jobs), int(events), int(reports))


def prune_deliveries(conn: psycopg.Connection, *, days: int, limit: int) -> int:
    """Delete up to `limit` webhook delivery ids received more than `days` ago; how many went."""
    # By the rows' physical addresses, read and locked in this statement: no scan of the table.
    cursor = conn.execute(
        'DELETE FROM "webhook_delivery" WHERE "ctid" = ANY(ARRAY('
        ' SELECT "ctid" FROM "webhook_delivery" WHERE "received_at" < now() - make_interval(days => %s)'
        ' ORDER BY "received_at" LIMIT %s FOR UPDATE SKIP LOCKED))',
        (days, limit),
    )
    return cursor.rowcount


def prune_unused_bundles(conn: psycopg.Connection, *, limit: int) -> int:
    """Delete up to `limit` bundles no job refers to; how many went.

    Each target's latest bundle is referred to by the job `prune_finished_jobs` keeps for it. A
    request that reuses the content of an unused bundle in the instant it is deleted fails (its
    job's foreign key), and its retry stores the bundle afresh."""
    cursor = conn.execute(
        'DELETE FROM "bundle" WHERE "digest" IN ('
        ' SELECT "digest" FROM "bundle" WHERE NOT EXISTS (SELECT 1 FROM "job" WHERE "job"."bundle_digest" = "bundle"."digest")'
        ' ORDER BY "created_at" LIMIT %s FOR UPDATE SKIP LOCKED)',
        (limit,),
    )
    return cursor.rowcount
