"""What the jobs that wait on AWS (`restore`, `failover`) share: the client factory, the pauses
between polls, the journaled polls and time limits, and the words for approvals and AWS calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.jobs.steps import JobRun
from service.recovery.rds.client import RestoreRefused
from service.recovery.rds.resources import ApiCall, deadline_passed
from service.store import repository

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

RdsClientFactory = Callable[[RdsSettings], "RDSClient"]
Clock = Callable[[], datetime]
# How long a job waits before it asks AWS again.
POLL_SECONDS = 30.0
# After a throttle or an AWS outage.
UNAVAILABLE_RETRY_SECONDS = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def rds_settings(run: JobRun) -> RdsSettings:
    if run.target.rds is None:
        raise RestoreRefused(f"target {run.target.name} names no RDS instance or cluster")
    return run.target.rds


def step_deadline_passed(run: JobRun, started_step: str, now: Clock, limit: timedelta) -> bool:
    """Whether the AWS work `started_step` began has been polled for longer than `limit` (from its journal entry)."""
    started_at = repository.step_finished_at(run.store, run.job.id, started_step)
    return started_at is not None and deadline_passed(started_at, now(), limit)


def journal_poll(run: JobRun, prefix: str, data: dict[str, Any]) -> None:
    """One poll's answer, as the next numbered step (`poll:1`, `poll:2`, ...)."""
    count = repository.count_finished_steps(run.store, run.job.id, prefix)
    run.step(f"{prefix}{count + 1}", lambda: data)


def approved_words(approval: dict[str, Any]) -> str:
    return f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else "")


def in_words(limit: timedelta) -> str:
    minutes = int(limit.total_seconds()) // 60
    if minutes % 60:
        return f"{minutes} minutes"
    return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"


def call_words(call: ApiCall) -> str:
    """An AWS call as a plan shows it: `operation(Name='value', ...)`."""
    return f"{call.operation}(" + ", ".join(f"{key}={value!r}" for key, value in call.parameters.items()) + ")"
