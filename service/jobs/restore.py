"""`restore` jobs (runbook procedure C): an RDS snapshot or point in time restored to a NEW instance,
and the separately approved cut-over that swaps names.

No step waits on AWS: each task run makes at most a few API calls and, while AWS works, raises
Deferred so the task runs again after a short pause. Every start is idempotent (the resources
carry the job's tag), so a worker that dies after an API call but before journaling it resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from service.config import RdsSettings
from service.jobs.states import Verdict
from service.jobs.steps import AwaitingApproval, Deferred, JobRun
from service.recovery import rds
from service.store import repository

RdsClientFactory = Callable[[RdsSettings], Any]
# How long a job waits before it asks AWS again.
POLL_SECONDS = 30.0
# After a throttle or an AWS outage.
UNAVAILABLE_RETRY_SECONDS = 60.0


def run_restore(run: JobRun, client_for: RdsClientFactory, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> tuple[Verdict, list[str]]:
    client = client_for(run.target.rds)
    try:
        if run.job.params.get("action") == "cutover":
            return _cutover(run, client, now)
        return _restore(run, client, now)
    except rds.RestoreRefused as refused:
        return Verdict.BLOCKED, [str(refused)]
    except rds.RdsUnavailable as error:
        raise Deferred(UNAVAILABLE_RETRY_SECONDS, f"AWS is not answering: {error}") from None


def snapshot_before_apply(run: JobRun, client_for: RdsClientFactory, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict[str, Any]:
    """Take a manual snapshot tagged with the deploy and wait (in short steps) until it is available."""
    settings = run.target.rds
    client = client_for(settings)
    source = settings.cluster or settings.instance
    try:
        planned = run.step("snapshot", lambda: {"snapshot_id": rds.default_snapshot_identifier(source, now()), "source": source})
        snapshot_id = planned["snapshot_id"]
        run.step("snapshot:start", lambda: rds.start_snapshot(client, settings, snapshot_id, rds.job_tags(run.job.id, source)).to_dict())
        status = rds.poll_snapshot(client, settings, snapshot_id)
    except rds.RdsUnavailable as error:
        raise Deferred(UNAVAILABLE_RETRY_SECONDS, f"AWS is not answering: {error}") from None
    if status.state is rds.State.FAILED:
        raise rds.RestoreRefused(f"the snapshot {snapshot_id} before apply failed ({status.status})")
    if status.state is not rds.State.AVAILABLE:
        _journal_poll(run, "snapshot:poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"snapshot {snapshot_id} is {status.status}")
    return run.step("snapshot:available", lambda: status.to_dict())


def _restore(run: JobRun, client: Any, now: Callable[[], datetime]) -> tuple[Verdict, list[str]]:
    params = run.job.params
    plan_data = run.step(
        "plan",
        lambda: rds.plan_restore(
            client,
            run.target.rds,
            snapshot_id=params.get("snapshot_id"),
            point_in_time=datetime.fromisoformat(params["point_in_time"]) if params.get("point_in_time") else None,
            use_latest=bool(params.get("use_latest_restorable_time")),
            new_identifier=params.get("new_identifier"),
            now=now(),
        ).to_dict(),
    )
    plan = rds.RestorePlan.from_dict(plan_data)
    reasons = [plan.summary]
    if run.target.policy.restores_need_approval:
        approval = run.approval("start")
        if approval is None:
            steps = [plan.summary, f"AWS call: {plan.restore_call.operation}({_parameters(plan.restore_call)})"]
            if plan.instance_call:
                steps.append(f"then AWS call: {plan.instance_call.operation}({_parameters(plan.instance_call)})")
            raise AwaitingApproval("start", steps, reasons, {"restore": plan_data})
        reasons.append(f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else ""))
    tags = rds.job_tags(run.job.id, plan.source)
    run.step("start", lambda: rds.start_restore(client, plan, tags).to_dict())
    run.tell("restore_started", run.job, source=plan.source, new_instance=plan.new_identifier, summary=plan.summary)
    if plan.aurora:
        run.step("start_instance", lambda: rds.start_restore_instance(client, plan, tags).to_dict())
    status = rds.poll_restore(client, plan)
    started_at = _step_time(run, "start") or now()
    if status.state is rds.State.FAILED or (
        status.state is not rds.State.AVAILABLE and rds.deadline_passed(started_at, now(), rds.RESTORE_TIME_LIMIT)
    ):
        why = f"AWS reports {status.status}" if status.state is rds.State.FAILED else f"not available after {rds.RESTORE_TIME_LIMIT}"
        run.tell("restore_failed", run.job, error=why, new_instance=plan.new_identifier)
        return Verdict.BLOCKED, reasons + [f"the restore to {plan.new_identifier} failed: {why}"]
    if status.state is not rds.State.AVAILABLE:
        _journal_poll(run, "poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"{plan.new_identifier} is {status.status}")
    result = run.step("endpoint", lambda: {**status.to_dict(), "new_identifier": plan.new_identifier, "source": plan.source})
    run.finished["restore"] = {**result, "plan": plan_data}
    run.tell("restore_finished", run.job, new_instance=plan.new_identifier, endpoint=f"{status.endpoint}:{status.port}")
    return Verdict.PROCEED, reasons + [
        f"{plan.new_identifier} is available at {status.endpoint}:{status.port}",
        f"{plan.source} is unchanged; to swap names, POST /v1/jobs/{run.job.id}/cutover (approved separately)",
    ]


def _cutover(run: JobRun, client: Any, now: Callable[[], datetime]) -> tuple[Verdict, list[str]]:
    settings = run.target.rds
    new_identifier = run.job.params["new_identifier"]
    plan_data = run.step("plan", lambda: rds.plan_cutover(client, settings, new_identifier, now()).to_dict())
    plan = rds.CutoverPlan.from_dict(plan_data)
    reasons = [plan.summary]
    # Always approved, whatever the policy: it moves production's name.
    approval = run.approval("cutover")
    if approval is None:
        raise AwaitingApproval("cutover", [plan.summary], reasons, {"cutover": plan_data})
    reasons.append(f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else ""))
    run.step("cutover:rename_old", lambda: rds.rename_old_away(client, plan).to_dict())
    status = rds.poll_rename(client, plan)
    if status.state in (rds.CutoverState.READY, rds.CutoverState.RENAMING_OLD):
        _journal_poll(run, "cutover:poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"renaming {plan.name} to {plan.old_renamed_to}: {status.status}")
    run.step("cutover:rename_new", lambda: rds.rename_new_in(client, plan).to_dict())
    status = rds.poll_rename(client, plan)
    if status.state is not rds.CutoverState.DONE:
        _journal_poll(run, "cutover:poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"renaming {plan.new_identifier} to {plan.name}: {status.status}")
    done = run.step("cutover:done", lambda: status.to_dict())
    return Verdict.PROCEED, reasons + [
        f"{plan.name} is now the restored database (endpoint {done['endpoint']}:{done['port']}); the old one is {plan.old_renamed_to}"
    ]


def _journal_poll(run: JobRun, prefix: str, data: dict[str, Any]) -> None:
    count = repository.count_finished_steps(run.store, run.job.id, prefix)
    run.step(f"{prefix}{count + 1}", lambda: data)


def _step_time(run: JobRun, step: str) -> datetime | None:
    return repository.step_finished_at(run.store, run.job.id, step)


def _parameters(call: rds.ApiCall) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in call.parameters.items())
