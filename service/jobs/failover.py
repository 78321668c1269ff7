"""`failover` jobs (the runbook's "If instance is failing: failover to read replica"): the target's
read replica promoted to a standalone instance, or its Aurora cluster failed over to a reader.

Like a restore: planned and checked with AWS first, approved unless the policy says otherwise
(`failovers_need_approval`), then polled in short steps (each task run makes a few API calls and
raises Deferred while AWS works), never for longer than FAILOVER_TIME_LIMIT. The job reports the
endpoint the application must use afterwards.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from service.config.records import RdsSettings
from service.jobs.rds_steps import (
    POLL_SECONDS,
    UNAVAILABLE_RETRY_SECONDS,
    Clock,
    RdsClientFactory,
    approved_words,
    call_words,
    in_words,
    journal_poll,
    rds_settings,
    step_deadline_passed,
    utc_now,
)
from service.jobs.states import Verdict
from service.jobs.steps import AwaitingApproval, Deferred, JobRun
from service.recovery.rds.client import RdsUnavailable, RestoreRefused
from service.recovery.rds.failover import FAILOVER_TIME_LIMIT, FailoverPlan, plan_failover, poll_failover, start_failover
from service.recovery.rds.resources import State

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


def run_failover(run: JobRun, client_for: RdsClientFactory, now: Clock = utc_now) -> tuple[Verdict, list[str]]:
    try:
        settings = _settings(run)
        return _failover(run, client_for(settings), settings, now)
    except RestoreRefused as refused:
        return Verdict.BLOCKED, [str(refused)]
    except RdsUnavailable as error:
        raise Deferred(UNAVAILABLE_RETRY_SECONDS, f"AWS is not answering: {error}") from None


def _failover(run: JobRun, client: RDSClient, settings: RdsSettings, now: Clock) -> tuple[Verdict, list[str]]:
    plan_data = run.step("plan", lambda: plan_failover(client, settings, run.target.name).to_dict())
    plan = FailoverPlan.from_dict(plan_data)
    reasons = [plan.summary, *plan.notes]
    if run.target.policy.failovers_need_approval:
        approval = run.approval("start")
        if approval is None:
            raise AwaitingApproval("start", [plan.summary, *plan.notes, f"AWS call: {call_words(plan.failover_call)}"], reasons, {"failover": plan_data})
        reasons.append(approved_words(approval))
    run.step("start", lambda: start_failover(client, plan).to_dict())
    run.tell("failover_started", run.job, source=plan.source, replica=plan.replica, summary=plan.summary)
    status = poll_failover(client, plan)
    timed_out = status.state is State.CREATING and step_deadline_passed(run, "start", now, FAILOVER_TIME_LIMIT)
    if status.state is State.FAILED or timed_out:
        why = f"AWS reports {status.status}"
        if timed_out:
            why = f"not done after {in_words(FAILOVER_TIME_LIMIT)} ({why})"
        run.tell("failover_failed", run.job, error=why, replica=plan.replica)
        return Verdict.BLOCKED, reasons + [f"the failover to {plan.replica} did not finish: {why}", _look_in_aws(plan)]
    if status.state is not State.AVAILABLE:
        journal_poll(run, "poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"{plan.replica} is {status.status}")
    result = run.step("endpoint", lambda: {**status.to_dict(), "source": plan.source, "replica": plan.replica})
    run.finished["failover"] = {**result, "plan": plan_data}
    address = f"{status.endpoint}:{status.port}"
    run.tell("failover_finished", run.job, replica=plan.replica, endpoint=address)
    return Verdict.PROCEED, reasons + _cutover_words(plan, address)


def _settings(run: JobRun) -> RdsSettings:
    """The target's RDS settings, with the replica the job was asked for (its params say which)."""
    settings = rds_settings(run)
    replica = run.job.params.get("replica")
    return replace(settings, read_replica=replica) if isinstance(replica, str) and replica else settings


def _cutover_words(plan: FailoverPlan, address: str) -> list[str]:
    """What the application must do now: the failover's cut-over."""
    if plan.aurora:
        return [
            f"{plan.replica} is the writer of cluster {plan.source}; the cluster endpoint {address} now leads to it",
            f"an application that uses the cluster endpoint needs no change; point one that uses {plan.writer or 'the old writer'}'s own endpoint at {address}",
        ]
    return [
        f"{plan.replica} is a standalone instance, available at {address}",
        f"cut-over: point the application's database URL at {address}; {plan.source} is not changed and no longer replicates to {plan.replica}",
    ]


def _look_in_aws(plan: FailoverPlan) -> str:
    what = f"cluster {plan.source}" if plan.aurora else f"instance {plan.replica}"
    return f"AWS may still finish it: look at {what} in the RDS console of {plan.region} before asking for another failover"
