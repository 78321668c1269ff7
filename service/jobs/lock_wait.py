"""Before a transient failure is retried, wait (bounded) for the sessions whose locks stand in the way.

A migration that failed on a lock held by another session fails again if it is re-applied at
once, and uses up a retry doing so. So the recover job looks for the sessions holding or queueing
for conflicting locks on the migration's tables (service.recovery.blockers) and journals each look
as a step `wait_for_blockers:<round>:<n>`: the sessions (pid, application, query, age, relation and
mode), the seconds waited so far, the next look and the bound (the policy's `retry_wait_seconds`).
A first look that finds nobody in the way is not journaled: nothing was waited for.
While sessions remain it raises Deferred, so no worker thread sleeps through the wait: the task
runs the job again after a backoff (service.backoff). When none remains, the migration is applied
again; when the bound is spent first, the verdict is blocked, naming them.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from service.analysis.facts.analyze import analyze_migration
from service.backoff import backoff_seconds
from service.jobs.states import Verdict
from service.jobs.steps import Deferred, JobRun
from service.recovery.blockers import describe_wait, find_blocking_sessions
from service.recovery.decide import ErrorClass

STEP = "wait_for_blockers"
# Between looks: a random wait up to 1 s, then up to 2, 4, … s, never more than 15 s.
FIRST_LOOK_BACKOFF_SECONDS = 1.0
MAX_LOOK_BACKOFF_SECONDS = 15.0


def wait_for_blockers(run: JobRun, conn: psycopg.Connection, round_number: int, reasons: list[str]) -> tuple[Verdict, list[str]] | None:
    """None when the migration may be applied again; a blocked verdict when the wait ran out.

    Raises Deferred while sessions still hold conflicting locks and the bound is not spent.
    """
    facts = run.finished[f"facts:{round_number}"]["facts"]
    name = facts["migration_name"]
    migration = run.local.get(name) if run.local is not None else None
    if facts["error_class"] != ErrorClass.TRANSIENT or migration is None:
        return None
    prefix = f"{STEP}:{round_number}:"
    looks = sorted((key for key in run.finished if key.startswith(prefix)), key=lambda key: int(key.removeprefix(prefix)))
    earlier = [run.finished[key] for key in looks]
    last = earlier[-1] if earlier else None
    if last is None or last["outcome"] == "waiting":
        look = _look(run, conn, name, migration.script, earlier)
        if not earlier and look["outcome"] == "clear":
            return None  # nobody in the way, nothing waited: nothing to journal
        last = run.step(f"{prefix}{len(earlier) + 1}", lambda: look)
    if last["outcome"] == "waiting":
        raise Deferred(last["next_look_in_seconds"], describe_wait(last))
    if last["outcome"] == "gave_up":
        # Applying it again now would queue its lock behind sessions that kept theirs through the
        # whole wait: every query on those tables would then wait behind it for up to
        # lock_timeout, for an attempt that almost surely fails. Blocked, with the sessions named,
        # tells a person what to end; the retry is not used up, nothing more was done.
        return Verdict.BLOCKED, reasons + [
            f"not applied again: {describe_wait(last)}",
            f"next: end those sessions or let them finish, then deploy again; {name} is recorded as rolled back, so the next deploy applies it",
        ]
    return None


def _look(run: JobRun, conn: psycopg.Connection, name: str, script: str, earlier: list[dict[str, Any]]) -> dict[str, Any]:
    policy = run.target.policy
    now = time.time()
    waited = now - earlier[0]["looked_at"] if earlier else 0.0
    bound = policy.retry_wait_seconds
    # A session younger than the lock timeout cannot be what made the migration time out.
    settled = policy.lock_timeout_ms / 1000 if policy.lock_timeout_ms else 0.0
    found = find_blocking_sessions(conn, analyze_migration(script, name), run.target.database.schema, older_than_seconds=settled)
    look: dict[str, Any] = {
        "migration": name,
        **found.to_dict(),
        "looked_at": now,
        "waited_seconds": round(waited, 3),
        "bound_seconds": bound,
        "next_look_in_seconds": None,
    }
    if not found.blockers:
        return {**look, "outcome": "clear"}
    if waited >= bound:
        return {**look, "outcome": "gave_up"}
    pause = min(backoff_seconds(len(earlier), FIRST_LOOK_BACKOFF_SECONDS, MAX_LOOK_BACKOFF_SECONDS), bound - waited)
    return {**look, "outcome": "waiting", "next_look_in_seconds": round(pause, 3)}
