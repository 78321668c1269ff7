"""Drift in jobs: the `drift` step of check and deploy jobs, `drift` jobs, and beat's schedule of them.

The step compares the target's schema with the shadow's replay of its applied migrations
(service.analysis.drift_check) and records it in the job's facts under `drift`. What it does to
the verdict is the target's `[targets.NAME.drift] mode`:

- `warn` (the default): drift is among the reasons, and alone it does not block. A drift that
  cannot be checked (the shadow unreachable, the history not replayable) is a reason too, and the
  job goes on without waiting for the shadow.
- `block`: drift blocks, and so does a drift that cannot be checked; an unreachable shadow is
  waited for as any job waits for it (service.jobs.unreachable).

A `drift` job is the step alone, started by beat every `schedule_minutes` with the target's last
bundle. It notifies `drift_detected` only for differences the previous drift job of the target
did not find, so a drift that stays is told once, and a new one is told when it appears.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg

from service.analysis.drift_check import DriftNotChecked, check_drift
from service.analysis.drift_ignore import parse_ignore_rules
from service.analysis.replay import ReplayCache, ReplayFailed, ShadowUnusable
from service.config.records import Config, DriftMode, Target
from service.jobs.states import ACTIVE, JobKind, Verdict
from service.jobs.steps import JobRun
from service.prisma.errors import CannotConnect, MigrateError
from service.store import repository
from service.store.repository import Job

log = logging.getLogger(__name__)

DRIFT_STEP = "drift"
DRIFT_NOTIFICATION = "drift_detected"
SCHEDULED_BY = "schedule"
# Reasons list this many differences; the job's facts hold them all.
LISTED_DIFFERENCES = 10


def drift_step(run: JobRun, conn: psycopg.Connection) -> dict[str, Any]:
    """Run (once) and journal the drift step; its fact (see the module docstring)."""
    target = run.target
    mode = target.drift.mode

    def check() -> dict[str, Any]:
        if target.shadow is None:
            raise MigrateError(f"target {target.name} has no shadow server to replay its migrations on")
        replays = ReplayCache(target.shadow, target.database.schema, target.name)
        try:
            result = check_drift(conn, target.database.schema, run.migrations, replays, parse_ignore_rules(target.drift.ignore))
        except CannotConnect as error:
            if mode is DriftMode.BLOCK:
                raise  # waited for, as any job waits for its shadow
            return _not_checked(mode, f"shadow unreachable: {error.failure.reason}")
        except (DriftNotChecked, ReplayFailed, ShadowUnusable) as error:
            return _not_checked(mode, error.headline)
        except psycopg.errors.LockNotAvailable as error:
            if mode is DriftMode.BLOCK:
                raise  # waited for, as any job waits for a catalog another session locks
            # The lock holder may be the very migration this job waits on: drift alone never holds it up.
            return _not_checked(
                mode, f"a lock another session holds kept the target's catalog from being read ({error.diag.message_primary or 'lock timeout'})"
            )
        fact = {"mode": mode.value, **result.to_dict()}
        if run.job.kind is JobKind.DRIFT:
            fact.update(_news(run, fact))
        return fact

    return run.step(DRIFT_STEP, check)


def _not_checked(mode: DriftMode, error: str) -> dict[str, Any]:
    return {"mode": mode.value, "checked": False, "drifted": None, "error": error}


def _news(run: JobRun, fact: dict[str, Any]) -> dict[str, Any]:
    """What this drift job finds that the previous one did not: what `drift_detected` tells."""
    previous = repository.previous_drift_job(run.store, run.job)
    seen = {difference["text"] for difference in previous.facts["drift"]["differences"]} if previous else set()
    return {"previous_job": previous.id if previous else None, "new": [d["text"] for d in fact["differences"] if d["text"] not in seen]}


def drift_reasons(fact: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """The drift step's reasons as (blocking, not blocking), by the mode it ran with."""
    if not fact:
        return [], []
    blocks = fact.get("mode") == DriftMode.BLOCK
    if not fact.get("checked"):
        reasons = [f"drift not checked: {fact.get('error')}"]
    else:
        differences = fact.get("differences") or []
        if not differences:
            return [], []
        count = len(differences)
        summary = f"drift: the target's schema differs from its applied migrations in {count} object{'' if count == 1 else 's'}"
        reasons = [summary + ("" if blocks else " (drift mode warn: this alone does not block)")]
        reasons += [f"drift: {difference['text']}" for difference in differences[:LISTED_DIFFERENCES]]
        if count > LISTED_DIFFERENCES:
            reasons.append(f"drift: … and {count - LISTED_DIFFERENCES} more (the job's facts, under drift)")
    return (reasons, []) if blocks else ([], reasons)


def run_drift_job(run: JobRun, conn: psycopg.Connection) -> tuple[Verdict, list[str]]:
    """A `drift` job: the step alone; blocked only as a check job with drift would be."""
    if not run.target.checks_drift:
        raise MigrateError(f"target {run.target.name} checks no drift: it needs a shadow server and a drift mode other than ignore")
    blocking, warnings = drift_reasons(drift_step(run, conn))
    return (Verdict.BLOCKED if blocking else Verdict.PROCEED), blocking + warnings


def tell_new_drift(run: JobRun, job: Job) -> None:
    """`drift_detected`, when the finished drift job found differences the previous one did not."""
    fact = run.finished.get(DRIFT_STEP) or {}
    new = fact.get("new") or []
    if new:
        run.tell(DRIFT_NOTIFICATION, job, new=new, differences=len(fact.get("differences") or []))


def start_due_drift_checks(store: psycopg.Connection, config: Config, now: datetime) -> list[Job]:
    """A `drift` job for each target whose schedule is due; the new ones, for the caller to enqueue.

    Due means: no drift job was scheduled in the current period of `schedule_minutes` (the
    period's number is in the job's idempotency key, so beats that tick twice start it once), and
    none of the target's drift jobs is still queued or running. A target with no stored bundle has
    nothing to replay: it is logged and skipped.
    """
    started = []
    for target in config.targets.values():
        if not _scheduled(target) or _drift_job_active(store, target.name):
            continue
        minutes = target.drift.schedule_minutes
        assert minutes is not None
        digest = repository.latest_bundle_digest(store, target.name)
        if digest is None:
            log.warning("drift check skipped: no migrations stored for target %s yet", target.name, extra={"target": target.name})
            continue
        period = int(now.timestamp() // (minutes * 60))
        job, created = repository.create_job(
            store,
            kind=JobKind.DRIFT,
            target=target.name,
            requested_by=SCHEDULED_BY,
            params={"schedule_minutes": minutes},
            bundle_digest=digest,
            idempotency_key=f"drift:{target.name}:{minutes}m:{period}",
        )
        if created:
            started.append(job)
    return started


def _scheduled(target: Target) -> bool:
    return target.checks_drift and target.drift.schedule_minutes is not None


def _drift_job_active(store: psycopg.Connection, target: str) -> bool:
    latest = repository.list_jobs(store, target=target, kind=JobKind.DRIFT, limit=1)
    return bool(latest) and latest[0].state in ACTIVE
