"""`restore` jobs (runbook procedure C): an RDS snapshot or point in time restored to a NEW instance,
and the separately approved cut-over that swaps names; and the snapshot a deploy takes before it
applies migrations.

No step waits on AWS: each task run makes at most a few API calls and, while AWS works, raises
Deferred so the task runs again after a short pause. Every start is idempotent (the resources
carry the job's tag), so a worker that dies after an API call but before journaling it resumes.
Nothing is polled for ever: a restore not available within RESTORE_TIME_LIMIT, a snapshot within
SNAPSHOT_TIME_LIMIT, or a rename within RENAME_TIME_LIMIT ends the job blocked, saying why.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from service.recovery.rds.cutover import (
    RENAME_TIME_LIMIT,
    CutoverPlan,
    CutoverState,
    CutoverStatus,
    StuckRename,
    plan_cutover,
    poll_rename,
    rename_new_in,
    rename_old_away,
    stuck_rename,
)
from service.recovery.rds.resources import State, job_tags, source_name
from service.recovery.rds.restore import RESTORE_TIME_LIMIT, RestorePlan, plan_restore, poll_restore, start_restore, start_restore_instance
from service.recovery.rds.snapshot import SNAPSHOT_TIME_LIMIT, default_snapshot_identifier, poll_snapshot, start_snapshot

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


def run_restore(run: JobRun, client_for: RdsClientFactory, now: Clock = utc_now) -> tuple[Verdict, list[str]]:
    try:
        client = client_for(rds_settings(run))
        if run.job.params.get("action") == "cutover":
            return _cutover(run, client, now)
        return _restore(run, client, now)
    except RestoreRefused as refused:
        return Verdict.BLOCKED, [str(refused)]
    except RdsUnavailable as error:
        raise Deferred(UNAVAILABLE_RETRY_SECONDS, f"AWS is not answering: {error}") from None


def snapshot_before_apply(run: JobRun, client_for: RdsClientFactory, now: Clock = utc_now) -> dict[str, Any]:
    """Take a manual snapshot tagged with the deploy and wait (in short steps) until it is available.

    Raises RestoreRefused, which blocks the deploy before anything is applied, when the snapshot
    fails or is not available within SNAPSHOT_TIME_LIMIT.
    """
    settings = rds_settings(run)
    client = client_for(settings)
    source = source_name(settings)
    try:
        planned = run.step("snapshot", lambda: {"snapshot_id": default_snapshot_identifier(source, now()), "source": source})
        snapshot_id = planned["snapshot_id"]
        run.step("snapshot:start", lambda: start_snapshot(client, settings, snapshot_id, job_tags(run.job.id, source)).to_dict())
        status = poll_snapshot(client, settings, snapshot_id)
    except RdsUnavailable as error:
        raise Deferred(UNAVAILABLE_RETRY_SECONDS, f"AWS is not answering: {error}") from None
    if status.state is State.FAILED:
        raise RestoreRefused(f"the snapshot {snapshot_id} before apply failed ({status.status})")
    if status.state is State.AVAILABLE:
        return run.step("snapshot:available", lambda: status.to_dict())
    if step_deadline_passed(run, "snapshot:start", now, SNAPSHOT_TIME_LIMIT):
        progress = f", {status.progress_percent}% done" if status.progress_percent is not None else ""
        why = (
            f"the snapshot {snapshot_id} was not available after {in_words(SNAPSHOT_TIME_LIMIT)} (AWS reports {status.status}{progress}); "
            "nothing was applied. AWS may still finish the snapshot; deploy again to take a new one"
        )
        run.step("snapshot:timed_out", lambda: {**status.to_dict(), "reason": why})
        raise RestoreRefused(why)
    journal_poll(run, "snapshot:poll:", status.to_dict())
    raise Deferred(POLL_SECONDS, f"snapshot {snapshot_id} is {status.status}")


def _restore(run: JobRun, client: RDSClient, now: Clock) -> tuple[Verdict, list[str]]:
    params = run.job.params
    plan_data = run.step(
        "plan",
        lambda: plan_restore(
            client,
            rds_settings(run),
            snapshot_id=params.get("snapshot_id"),
            point_in_time=datetime.fromisoformat(params["point_in_time"]) if params.get("point_in_time") else None,
            use_latest=bool(params.get("use_latest_restorable_time")),
            new_identifier=params.get("new_identifier"),
            now=now(),
        ).to_dict(),
    )
    plan = RestorePlan.from_dict(plan_data)
    reasons = [plan.summary]
    if run.target.policy.restores_need_approval:
        approval = run.approval("start")
        if approval is None:
            steps = [plan.summary, f"AWS call: {call_words(plan.restore_call)}"]
            if plan.instance_call:
                steps.append(f"then AWS call: {call_words(plan.instance_call)}")
            raise AwaitingApproval("start", steps, reasons, {"restore": plan_data})
        reasons.append(approved_words(approval))
    tags = job_tags(run.job.id, plan.source)
    run.step("start", lambda: start_restore(client, plan, tags).to_dict())
    run.tell("restore_started", run.job, source=plan.source, new_instance=plan.new_identifier, summary=plan.summary)
    if plan.aurora:
        run.step("start_instance", lambda: start_restore_instance(client, plan, tags).to_dict())
    status = poll_restore(client, plan)
    if status.state is State.FAILED or (status.state is not State.AVAILABLE and step_deadline_passed(run, "start", now, RESTORE_TIME_LIMIT)):
        why = f"AWS reports {status.status}" if status.state is State.FAILED else f"not available after {in_words(RESTORE_TIME_LIMIT)}"
        run.tell("restore_failed", run.job, error=why, new_instance=plan.new_identifier)
        return Verdict.BLOCKED, reasons + [f"the restore to {plan.new_identifier} failed: {why}"]
    if status.state is not State.AVAILABLE:
        journal_poll(run, "poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"{plan.new_identifier} is {status.status}")
    result = run.step("endpoint", lambda: {**status.to_dict(), "new_identifier": plan.new_identifier, "source": plan.source})
    run.finished["restore"] = {**result, "plan": plan_data}
    run.tell("restore_finished", run.job, new_instance=plan.new_identifier, endpoint=f"{status.endpoint}:{status.port}")
    return Verdict.PROCEED, reasons + [
        f"{plan.new_identifier} is available at {status.endpoint}:{status.port}",
        f"{plan.source} is unchanged; to swap names, POST /v1/jobs/{run.job.id}/cutover (approved separately)",
    ]


def _cutover(run: JobRun, client: RDSClient, now: Clock) -> tuple[Verdict, list[str]]:
    new_identifier = run.job.params["new_identifier"]
    plan_data = run.step("plan", lambda: plan_cutover(client, rds_settings(run), new_identifier, now()).to_dict())
    plan = CutoverPlan.from_dict(plan_data)
    reasons = [plan.summary]
    # Always approved, whatever the policy: it moves production's name.
    approval = run.approval("cutover")
    if approval is None:
        raise AwaitingApproval("cutover", [plan.summary], reasons, {"cutover": plan_data})
    reasons.append(approved_words(approval))
    run.step("cutover:rename_old", lambda: rename_old_away(client, plan).to_dict())
    status = poll_rename(client, plan)
    if status.state in (CutoverState.READY, CutoverState.RENAMING_OLD):
        return _wait_for_rename(run, client, plan, status, "cutover:rename_old", f"renaming {plan.name} to {plan.old_renamed_to}", now, reasons)
    run.step("cutover:rename_new", lambda: rename_new_in(client, plan).to_dict())
    status = poll_rename(client, plan)
    if status.state is not CutoverState.DONE:
        return _wait_for_rename(run, client, plan, status, "cutover:rename_new", f"renaming {plan.new_identifier} to {plan.name}", now, reasons)
    done = run.step("cutover:done", lambda: status.to_dict())
    return Verdict.PROCEED, reasons + [
        f"{plan.name} is now the restored database (endpoint {done['endpoint']}:{done['port']}); the old one is {plan.old_renamed_to}"
    ]


def _wait_for_rename(
    run: JobRun, client: RDSClient, plan: CutoverPlan, status: CutoverStatus, rename_step: str, renaming: str, now: Clock, reasons: list[str]
) -> tuple[Verdict, list[str]]:
    """Poll the rename again later; past RENAME_TIME_LIMIT, stop and journal where the names stand and what a person must do."""
    if not step_deadline_passed(run, rename_step, now, RENAME_TIME_LIMIT):
        journal_poll(run, "cutover:poll:", status.to_dict())
        raise Deferred(POLL_SECONDS, f"{renaming}: {status.status}")
    why = f"{renaming} did not finish within {in_words(RENAME_TIME_LIMIT)} ({status.status})"
    stuck = StuckRename.from_dict(run.step("cutover:stuck", lambda: {"reason": why, **stuck_rename(client, plan).to_dict()}))
    run.tell("restore_failed", run.job, error=f"the cut-over stopped: {why}", new_instance=plan.new_identifier)
    return Verdict.BLOCKED, reasons + [f"the cut-over stopped: {why}", *stuck.lines]
