"""Retention: the store keeps finished jobs, webhook delivery ids and bundles only as long as the
targets file's `[retention]` table says, and deletes the rest in small batches.

- Finished jobs (succeeded, failed, canceled) go `jobs_days` after they ended, with their journals
  (approvals included) and the reports they owed the platforms. A job still queued, running or
  waiting for approval is never deleted. A job stays while a job it started is kept, and each
  target's newest job that carried a bundle stays, so that bundle is still the one a deploy without
  `migrations` and a webhook check reuse.
- Webhook delivery ids go `deliveries_days` after they arrived.
- Bundles (up to 10 MB each) go once no job refers to them.

`prune_store` runs batches of `batch_size` rows, each its own short transaction, until a batch finds
nothing; the worker's beat task (`workers.tasks.prune_store`) calls it every hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from service.config.records import Retention
from service.store import repository

BATCH_SIZE = 500


@dataclass(frozen=True)
class Pruned:
    """What one run deleted, and in how many batches (each a transaction)."""

    jobs: int = 0
    events: int = 0
    reports: int = 0
    deliveries: int = 0
    bundles: int = 0
    batches: int = 0

    def describe(self) -> str:
        return (
            f"{self.jobs} job(s) with {self.events} journal event(s) and {self.reports} integration report(s),"
            f" {self.deliveries} webhook delivery id(s), {self.bundles} bundle(s), in {self.batches} batch(es)"
        )


def prune_store(store: psycopg.Connection, policy: Retention, *, batch_size: int = BATCH_SIZE) -> Pruned:
    """Delete what `policy` no longer keeps, `batch_size` rows at a time; `store` is in autocommit."""
    jobs = events = reports = batches = 0
    while True:
        batch = repository.prune_finished_jobs(store, days=policy.jobs_days, limit=batch_size)
        batches += 1
        jobs, events, reports = jobs + batch.jobs, events + batch.events, reports + batch.reports
        # A parent waits for its children, so a short batch may still leave some for the next one.
        if batch.jobs == 0:
            break
    deliveries, delivery_batches = _in_batches(lambda: repository.prune_deliveries(store, days=policy.deliveries_days, limit=batch_size), batch_size)
    # After the jobs: the bundles only they referred to are unused now.
    bundles, bundle_batches = _in_batches(lambda: repository.prune_unused_bundles(store, limit=batch_size), batch_size)
    return Pruned(jobs, events, reports, deliveries, bundles, batches + delivery_batches + bundle_batches)


def _in_batches(prune_batch: Callable[[], int], batch_size: int) -> tuple[int, int]:
    """(rows deleted, batches run): batches until one deletes fewer than a full batch."""
    total = batches = 0
    while True:
        deleted = prune_batch()
        total, batches = total + deleted, batches + 1
        if deleted < batch_size:
            return total, batches
