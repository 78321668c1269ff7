"""A target, or its shadow server, that a job cannot reach: each failed attempt journaled, then blocked.

Each failed connection is journaled as a finished step `wait_for_target:N` (or `wait_for_shadow:N`), N counting from 1,
whose data says why in words (service.prisma.connection_failures: refused, unknown host, timeout,
authentication, missing database, TLS; never a password), with Prisma's code, the attempt, the
seconds since this job's first failed attempt and when the next one is. While the target's
`unreachable_timeout_seconds` is not spent it raises Deferred, so no worker sleeps and no Celery
retry is used up: the task runs the job again after a backoff (service.backoff), capped so that
the last try falls on the deadline. After it, the verdict is blocked: "target unreachable: …".

A shadow server is waited for the same way and never skipped: it is the ground truth for what a
migration produces and the place a rollback is verified, so a job that needs it blocks ("shadow
unreachable: …") rather than decide on less evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.backoff import backoff_seconds
from service.jobs.states import Verdict
from service.jobs.steps import Deferred, JobRun
from service.prisma.connection_failures import ConnectionFailure

TARGET = "target"
SHADOW = "shadow"
# Between attempts: at least 1 s, then a random wait up to 2, 4, … s, never more than 60 s.
FIRST_TRY_BACKOFF_SECONDS = 1.0
MAX_TRY_BACKOFF_SECONDS = 60.0


def step_prefix(server: str) -> str:
    return f"wait_for_{server}:"


def wait_to_reach(run: JobRun, server: str, failure: ConnectionFailure) -> tuple[Verdict, list[str]]:
    """Journal a failed attempt to reach `server` (TARGET or SHADOW); the blocked verdict once the
    policy's bound is spent. Raises Deferred, with the pause before the next attempt, until then."""
    prefix = step_prefix(server)
    earlier = sorted((key for key in run.finished if key.startswith(prefix)), key=lambda key: int(key.removeprefix(prefix)))
    now = datetime.now(UTC)
    first = datetime.fromisoformat(run.finished[earlier[0]]["first_failed_at"]) if earlier else now
    waited = max((now - first).total_seconds(), 0.0)
    bound = run.target.policy.unreachable_timeout_seconds
    attempt = len(earlier) + 1
    message = f"{server} unreachable: {failure.reason}"
    entry = {
        "server": server,
        "code": failure.code,
        "failure": failure.failure,
        "reason": failure.reason,
        "message": message,
        "attempt": attempt,
        "first_failed_at": first.isoformat(),
        "unreachable_seconds": round(waited, 3),
        "timeout_seconds": bound,
    }
    if waited >= bound:
        run.observe(f"{prefix}{attempt}", {**entry, "outcome": "gave_up", "next_try_in_seconds": None, "next_try_at": None})
        return Verdict.BLOCKED, [
            message,
            f"tried {attempt} time{'' if attempt == 1 else 's'} over {waited:.0f} s (unreachable_timeout_seconds = {bound:g}); "
            f"next: make the {server} {'database' if server == TARGET else 'server'} reachable, then run the job again",
        ]
    pause = min(backoff_seconds(attempt - 1, FIRST_TRY_BACKOFF_SECONDS, MAX_TRY_BACKOFF_SECONDS, floor=FIRST_TRY_BACKOFF_SECONDS), bound - waited)
    next_try_at = (now + timedelta(seconds=pause)).isoformat()
    run.observe(f"{prefix}{attempt}", {**entry, "outcome": "retrying", "next_try_in_seconds": round(pause, 3), "next_try_at": next_try_at})
    raise Deferred(pause, message)
