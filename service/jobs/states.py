"""Job states, verdicts and the transitions allowed between states."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    CHECK = "check"  # status and lint, then a verdict
    DEPLOY = "deploy"  # check, then apply pending migrations
    RECOVER = "recover"  # after a failure: decide and act
    ROLLBACK = "rollback"  # undo a named applied migration
    RESTORE = "restore"  # RDS snapshot or point-in-time restore to a new instance
    FAILOVER = "failover"  # promote the RDS read replica, or fail an Aurora cluster over to a reader
    DRIFT = "drift"  # beat's scheduled drift check: the target's schema against its applied migrations


class JobState(StrEnum):
    QUEUED = "queued"  # stored, its task enqueued after commit
    RUNNING = "running"  # a worker is on it (or was, and the reconciler will resume it)
    WAITING_APPROVAL = "waiting_approval"  # stopped before a risky step until a person decides
    SUCCEEDED = "succeeded"  # finished; the verdict says whether the deploy may proceed
    FAILED = "failed"  # could not finish (infrastructure, or a step that errored)
    CANCELED = "canceled"  # stopped on request


class Verdict(StrEnum):
    PROCEED = "proceed"
    BLOCKED = "blocked"


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED})
ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING, JobState.WAITING_APPROVAL})

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELED}),
    JobState.RUNNING: frozenset({JobState.WAITING_APPROVAL, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED}),
    # Rejected, a job ends with a blocked verdict.
    JobState.WAITING_APPROVAL: frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELED: frozenset(),
}


class IllegalTransition(Exception):
    """A state change the table above does not allow; the job is left as it was."""

    def __init__(self, job_id: str, current: JobState, requested: JobState) -> None:
        super().__init__(f"job {job_id} cannot go from {current.value} to {requested.value}")
        self.job_id = job_id
        self.current = current
        self.requested = requested


def check_transition(job_id: str, current: JobState, requested: JobState) -> None:
    if requested not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(job_id, current, requested)
