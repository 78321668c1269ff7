"""Run jobs: each step journaled before and after it runs, resumable.

A worker that dies mid-job leaves the job `running` with its journal; running it again skips the
steps already finished. For a migration interrupted by the worker's death (its history row
unfinished, no logs, and its step journaled as started but never finished) the live catalog
decides: all of its effects present means it committed and its row is finished, none means it was
aborted and it is applied again, so every migration ends up applied exactly once.

A deploy whose apply fails starts a `recover` job (service.jobs.recover) and stays `running`; the
recover job hands its verdict back when it ends, so a build polling the deploy sees the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from service.analysis.facts.analyze import analyze_migration
from service.analysis.probe import probe_effects
from service.analysis.replay import ReplayCache
from service.analysis.verify import TargetFailure, verify_rollback
from service.backoff import backoff_seconds
from service.config.records import Config, Target
from service.jobs.drift import drift_reasons, drift_step, run_drift_job, tell_new_drift
from service.jobs.failover import run_failover
from service.jobs.lint_step import lint_step_data
from service.jobs.rds_steps import RdsClientFactory
from service.jobs.recover import proceed_if_settled, run_recover
from service.jobs.restore import run_restore, snapshot_before_apply
from service.jobs.rollback import run_rollback
from service.jobs.states import TERMINAL, IllegalTransition, JobKind, JobState, Verdict
from service.jobs.steps import (
    AwaitingApproval,
    Deferred,
    JobCanceled,
    JobRun,
    RetryableError,
)
from service.jobs.unreachable import SHADOW, TARGET, wait_to_reach
from service.log_config import job_context
from service.notifications import Notify, no_notifier
from service.prisma import history
from service.prisma.database import DatabaseTarget, connect
from service.prisma.deploy import SessionTimeouts, deploy
from service.prisma.errors import (
    CannotConnect,
    DatabaseUnavailable,
    FoundFailedMigrations,
    MigrateError,
)
from service.prisma.lock import advisory_lock
from service.prisma.migrations import LocalMigrations
from service.prisma.status import MigrationState, read_status
from service.recovery.blockers import exclusive_lock_holders
from service.recovery.failure import RollbackVerifier
from service.recovery.postcondition import unusable_indexes
from service.recovery.rds.client import RestoreRefused, rds_client
from service.reports.steps import RecoverStep
from service.store import repository
from service.store.repository import Job

__all__ = ["AwaitingApproval", "Deferred", "RetryableError", "run_job"]

# (migrations, the target's rule levels, the timeouts set on the session before each file, Prisma major version) -> findings
Linter = Callable[[LocalMigrations, dict[str, str], frozenset[str], int], list[dict[str, Any]]]


def run_job(
    store: psycopg.Connection,
    config: Config,
    job_id: str,
    *,
    linter: Linter | None = None,
    connect_target: Callable[[DatabaseTarget], psycopg.Connection] = connect,
    enqueue: Callable[[str], None] = lambda job_id: None,
    notify: Notify = no_notifier,
    rds_client_for: RdsClientFactory = rds_client,
) -> Job:
    """Take a queued (or interrupted) job to a verdict. Terminal jobs are returned untouched.

    Raises Deferred when the job waits on something outside it (the task runs it again later)
    and RetryableError on infrastructure trouble. A job needing approval is left waiting.
    """
    job = repository.get_job(store, job_id)
    with job_context(job.id, job.kind.value, job.target):
        return _run(store, config, job, linter=linter, connect_target=connect_target, enqueue=enqueue, notify=notify, rds_client_for=rds_client_for)


def _run(
    store: psycopg.Connection,
    config: Config,
    job: Job,
    *,
    linter: Linter | None,
    connect_target: Callable[[DatabaseTarget], psycopg.Connection],
    enqueue: Callable[[str], None],
    notify: Notify,
    rds_client_for: RdsClientFactory,
) -> Job:
    if job.state in TERMINAL or job.state is JobState.WAITING_APPROVAL:
        return job
    target = config.targets.get(job.target)
    if target is None:
        return _fail(store, job, f"target {job.target} is not configured")
    if job.state is JobState.QUEUED:
        job = repository.transition(store, job.id, JobState.RUNNING)
    local = repository.load_bundle(store, job.bundle_digest) if job.bundle_digest else None
    run = JobRun(store, job, target, local, repository.finished_steps(store, job.id), enqueue, notify)
    verdict: Verdict | None  # None: a follow-up job decides (see _deploy)
    reasons: list[str]
    try:
        if job.kind in (JobKind.CHECK, JobKind.DEPLOY, JobKind.RECOVER, JobKind.ROLLBACK, JobKind.DRIFT):
            with connect_target(target.database) as conn:
                bound_lock_waits(conn, target.policy.lock_timeout_ms)
                if job.kind in (JobKind.RECOVER, JobKind.ROLLBACK):
                    if local is None:
                        raise MigrateError("the job has no migrations bundle")
                    with repository.target_lock(store, target.name):
                        if job.kind is JobKind.RECOVER:
                            verdict, reasons = run_recover(run, conn, _shadow_verifier(target), shadow_replay(target))
                        else:
                            verdict, reasons = run_rollback(run, conn, _shadow_verifier(target), shadow_replay(target))
                elif job.kind is JobKind.DEPLOY and job.params.get("apply", True):
                    with repository.target_lock(store, target.name):
                        verdict, reasons = _deploy(run, conn, linter, rds_client_for)
                elif job.kind is JobKind.DRIFT:
                    # Not while a deploy of ours applies: the history and the catalog would not match.
                    with repository.target_lock(store, target.name):
                        verdict, reasons = run_drift_job(run, conn)
                else:
                    verdict, reasons = _check(run, conn, linter)
        elif job.kind in (JobKind.RESTORE, JobKind.FAILOVER):
            if target.rds is None:
                return _fail(store, job, f"target {target.name} names no RDS instance or cluster")
            with repository.target_lock(store, target.name):
                verdict, reasons = (run_restore if job.kind is JobKind.RESTORE else run_failover)(run, rds_client_for)
        else:
            return _fail(store, job, f"{job.kind.value} jobs are not handled by this runner")
    except CannotConnect as error:
        # The connection the runner opens is to target.database; any other is to the shadow server.
        server = TARGET if error.database == target.database else SHADOW
        verdict, reasons = wait_to_reach(run, server, error.failure)
    except DatabaseUnavailable as error:
        raise RetryableError(error.headline) from None
    except psycopg.errors.LockNotAvailable as error:
        return _wait_for_the_catalog(run, error, connect_target)
    except psycopg.OperationalError as error:
        raise RetryableError(f"lost the connection: {str(error).strip().splitlines()[0] if str(error).strip() else error}") from None
    except JobCanceled:
        return repository.get_job(store, job.id)
    except AwaitingApproval as waiting:
        approval = {"step": waiting.step, "plan": waiting.plan, **waiting.details}
        job = repository.transition(store, job.id, JobState.WAITING_APPROVAL, reasons=waiting.reasons, facts={**_facts(run), "approval": approval})
        run.tell("approval_needed", job, f"notify:approval_needed:{waiting.step}", plan=waiting.plan)
        return job
    except MigrateError as error:
        verdict, reasons = Verdict.BLOCKED, [f"{error.code + ': ' if error.code else ''}{error.headline}"]
    if verdict is None:
        return repository.get_job(store, job.id)  # a follow-up job decides (see _deploy)
    return _finish(run, verdict, reasons)


def bound_lock_waits(conn: psycopg.Connection, lock_timeout_ms: int | None) -> None:
    """Every read of the target's catalog waits at most the target's lock timeout: a session
    holding a table's ACCESS EXCLUSIVE lock would otherwise hold the job (and its worker) for good."""
    for name, value in SessionTimeouts(lock_timeout_ms).settings().items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


_CATALOG_WAIT = "wait_for_catalog"


def _wait_for_the_catalog(run: JobRun, error: psycopg.Error, connect_target: Callable[[DatabaseTarget], psycopg.Connection]) -> Job:
    """A lock held by another session kept the job from reading the target: look again later
    (journaled, with the sessions holding exclusive locks), blocked once the policy's
    `retry_wait_seconds` is spent."""
    looks = repository.count_finished_steps(run.store, run.job.id, f"{_CATALOG_WAIT}:")
    first = repository.step_finished_at(run.store, run.job.id, f"{_CATALOG_WAIT}:1")
    waited = (datetime.now(UTC) - first).total_seconds() if first else 0.0
    try:
        with connect_target(run.target.database) as conn:
            holders = exclusive_lock_holders(conn)
    except (psycopg.Error, MigrateError):
        holders = []
    named = "; ".join(f"pid {h['pid']} ({h['application_name'] or 'no application name'}, {h['state']}) holds {h['relation']}: {h['query']}" for h in holders)
    what = f"a lock another session holds keeps the target's catalog from being read ({error.diag.message_primary or 'lock timeout'})" + (
        f": {named}" if named else ""
    )
    bound = run.target.policy.retry_wait_seconds
    if waited >= bound:
        return _finish(
            run,
            Verdict.BLOCKED,
            [f"{what}; waited {waited:.0f} s, the policy's bound (retry_wait_seconds)", "next: end that session or let it finish, then deploy again"],
        )
    pause = min(backoff_seconds(looks, 1.0, 15.0), max(bound - waited, 0.0))
    run.step(
        f"{_CATALOG_WAIT}:{looks + 1}",
        lambda: {"message": what, "holders": holders, "waited_seconds": round(waited, 3), "next_look_in_seconds": round(pause, 3), "bound_seconds": bound},
    )
    raise Deferred(pause, what)


def _finish(run: JobRun, verdict: Verdict, reasons: list[str]) -> Job:
    """Record the verdict, and hand it to the deploy job that started this one, if any."""
    try:
        job = repository.transition(run.store, run.job.id, JobState.SUCCEEDED, verdict=verdict, reasons=reasons, facts=_facts(run))
    except IllegalTransition:
        return repository.get_job(run.store, run.job.id)  # canceled meanwhile
    if job.kind is JobKind.DRIFT:
        tell_new_drift(run, job)  # drift_detected replaces verdict_blocked: told once per new drift
    elif verdict is Verdict.BLOCKED and not _decided_by_child(run):
        run.tell("verdict_blocked", job)
    hand_verdict_to_parent(run.store, job)
    return job


def hand_verdict_to_parent(store: psycopg.Connection, job: Job) -> None:
    """A finished recover job decides the verdict of the deploy job that started it."""
    if not job.parent_id or job.verdict is None:
        return
    parent = repository.get_job(store, job.parent_id)
    if parent.state is JobState.RUNNING:
        try:
            repository.transition(
                store,
                parent.id,
                JobState.SUCCEEDED,
                verdict=job.verdict,
                reasons=[f"recover job {job.id}: {reason}" for reason in job.reasons],
                data={"decided_by": job.id},
            )
        except IllegalTransition:
            pass  # canceled meanwhile


def _decided_by_child(run: JobRun) -> bool:
    """A deploy blocked by its recover job: the recover job told people already."""
    return "recover" in run.finished


def _shadow_verifier(target: Target) -> RollbackVerifier | None:
    """Verify rollback SQL on the target's shadow server, if it has one."""
    if target.shadow is None:
        return None

    shadow = target.shadow

    def verify(local: LocalMigrations, name: str, rollback_sql: str, failed_with: TargetFailure | None) -> tuple[bool, dict[str, Any]]:
        result = verify_rollback(shadow, local, name, rollback_sql, target=target.database, replays=shadow_replay(target), failed_with=failed_with)
        return result.verified, result.to_dict()

    return verify


def shadow_replay(target: Target) -> ReplayCache | None:
    """The target's history replayed on its shadow server, if it has one."""
    if target.shadow is None:
        return None
    return ReplayCache(target.shadow, target.database.schema, target.name)


def _fail(store: psycopg.Connection, job: Job, reason: str) -> Job:
    if job.state is JobState.QUEUED:
        job = repository.transition(store, job.id, JobState.RUNNING)
    return repository.transition(store, job.id, JobState.FAILED, reasons=[reason])


def _facts(run: JobRun) -> dict[str, Any]:
    return {name: data for name, data in run.finished.items()}


def _status_step(run: JobRun, conn: psycopg.Connection, name: str = "status") -> dict[str, Any]:
    local = run.migrations
    status: dict[str, Any] = run.step(name, lambda: read_status(conn, run.target.database.schema, local).to_dict())
    return status


def _lint_step(run: JobRun, linter: Linter | None, *, applies: bool) -> list[dict[str, Any]]:
    """The findings with the target's rule levels. A job that applies the migrations sets the
    policy's timeouts on the session first, so a file need not set them; a check's migrations are
    applied by the build (`prisma migrate deploy`, which sets none), so there the file must."""
    local = run.local
    if linter is None or local is None:
        return []
    session_timeouts = run.target.policy.session_timeouts if applies else frozenset()

    def lint() -> dict[str, Any]:
        # The catalogue is loaded where a lint runs (a worker), not wherever jobs are read.
        from service.analysis.lint.registry import deploy_risk_families

        return lint_step_data(linter(local, run.target.lint_severities, session_timeouts, run.prisma_version), deploy_risk_families())

    findings: list[dict[str, Any]] = run.step("lint", lint)["findings"]
    return findings


def _drift_reasons(run: JobRun, conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """The drift step's reasons (blocking, not blocking), when the target checks drift."""
    if not run.target.checks_drift:
        return [], []
    return drift_reasons(drift_step(run, conn))


def _check(run: JobRun, conn: psycopg.Connection, linter: Linter | None) -> tuple[Verdict, list[str]]:
    status = _status_step(run, conn)
    findings = _lint_step(run, linter, applies=False)
    drift_blocks, drift_warns = _drift_reasons(run, conn)
    phase = run.job.params.get("phase", "pre")
    reasons = _history_reasons(status, allow_pending=phase == "pre")
    applied = [m["name"] for m in status["migrations"] if m["state"] in (MigrationState.APPLIED, MigrationState.REAPPLIED)]
    reasons += unusable_indexes(conn, run.target.database.schema, run.migrations, applied)
    reasons += [f"lint {f['rule']} in {f['migration']} line {f['line']}: {f['message']}" for f in findings if f["severity"] == "error"]
    reasons += drift_blocks
    return (Verdict.BLOCKED if reasons else Verdict.PROCEED), reasons + drift_warns


def _history_reasons(status: dict[str, Any], *, allow_pending: bool) -> list[str]:
    reasons = []
    for migration in status["migrations"]:
        if migration["state"] == MigrationState.FAILED:
            failure = migration.get("failure") or {}
            reasons.append(f"migration {migration['name']} failed ({failure.get('sqlstate') or 'no SQLSTATE'}: {failure.get('message') or 'no logs'})")
    if status["prisma"]["history"] == "historiesDiverge":
        reasons.append("the history and the migrations directory diverge: " + ", ".join(status["prisma"]["unpersisted"]) + " not in the bundle")
    if not allow_pending and status["to_deploy"]:
        reasons.append("not applied: " + ", ".join(status["to_deploy"]))
    return reasons


def _deploy(run: JobRun, conn: psycopg.Connection, linter: Linter | None, rds_client_for: RdsClientFactory) -> tuple[Verdict | None, list[str]]:
    _status_step(run, conn)
    findings = _lint_step(run, linter, applies=True)
    # Before anything is applied: drift is about the applied history, which the apply changes.
    drift_blocks, drift_warns = _drift_reasons(run, conn)
    blocking = [f"lint {f['rule']} in {f['migration']} line {f['line']}: {f['message']}" for f in findings if f["severity"] == "error"]
    if blocking or drift_blocks:
        return Verdict.BLOCKED, blocking + drift_blocks + drift_warns
    verdict, reasons = _apply(run, conn, rds_client_for)
    return verdict, reasons + drift_warns if verdict is not None else reasons


def _apply(run: JobRun, conn: psycopg.Connection, rds_client_for: RdsClientFactory) -> tuple[Verdict | None, list[str]]:
    """A deploy past its checks: snapshot if the policy asks, apply, then the postcondition or a recover job."""
    schema = run.target.database.schema
    if run.target.policy.snapshot_before_apply and run.target.rds is not None and status_has_pending(run):
        try:
            snapshot_before_apply(run, rds_client_for)
        except RestoreRefused as refused:
            return Verdict.BLOCKED, [f"no snapshot before apply: {refused}"]
    _resume_interrupted_migration(run, conn)
    policy = run.target.policy
    timeouts = SessionTimeouts(policy.lock_timeout_ms, policy.statement_timeout_ms)

    if "recover" not in run.finished:
        try:
            outcome = deploy(
                conn,
                schema,
                run.migrations,
                timeouts=timeouts,
                lock_wait=policy.lock_wait_seconds,
                on_progress=run.record_apply,
                prisma_version=run.prisma_version,
            )
        except FoundFailedMigrations as error:
            failed = error.headline
        else:
            run.finished["apply"] = outcome.to_dict()
            if not outcome.failure:
                # A run of this job that stopped before the postcondition applied some of them already.
                earlier = [step.removeprefix("apply:") for step in run.finished if step.startswith("apply:")]
                return proceed_if_settled(run, conn, [*earlier, *outcome.applied], shadow_replay(run.target), [])
            failure = outcome.failure
            failed = f"migration {failure.migration_name} failed ({failure.sqlstate or 'no SQLSTATE'}: {failure.message})"
        run.step("recover", lambda: RecoverStep(_start_recovery(run).id, failed).to_dict())
    child = repository.get_job(run.store, str(RecoverStep.from_dict(run.finished["recover"]).job))
    if child.state in TERMINAL and child.verdict is not None:
        return child.verdict, [f"recover job {child.id}: {reason}" for reason in child.reasons]
    # Still recovering: the recover job hands its verdict to this job when it ends (see _finish).
    return None, []


def _start_recovery(run: JobRun) -> Job:
    """A recover job for this deploy's failure, started once however often this step re-runs."""
    child, _ = repository.create_job(
        run.store,
        kind=JobKind.RECOVER,
        target=run.job.target,
        requested_by=run.job.requested_by,
        params={**run.job.params, "phase": "failed", "apply": True, "after": run.job.id},
        bundle_digest=run.job.bundle_digest,
        idempotency_key=f"recover-after:{run.job.id}",
        parent_id=run.job.id,
    )
    run.enqueue(child.id)
    return child


def status_has_pending(run: JobRun) -> bool:
    """Whether the deploy has anything to apply (a snapshot before nothing would be wasted time)."""
    return bool(run.finished.get("status", {}).get("to_deploy"))


def _resume_interrupted_migration(run: JobRun, conn: psycopg.Connection) -> None:
    """Settle the history row of a migration this job was applying when its worker died.

    The row is unfinished and has no logs. A dead client does not always stop its statement:
    PostgreSQL may finish the script and commit before it notices. So wait for the old session
    (it holds Prisma's lock until it ends), then look at the catalog: every effect present means
    the script committed, and the row is finished as deploy would have finished it; none present
    means it was aborted, and the row is marked rolled back so deploy applies it again. Anything
    else is left failed for a recover job to decide.
    """
    interrupted = run.interrupted_applies()
    if not interrupted or run.local is None:
        return
    schema = run.target.database.schema
    with advisory_lock(conn, max(run.target.policy.lock_wait_seconds, 60.0)):
        for row in history.read_history(conn, schema) or []:
            migration = run.local.get(row.migration_name)
            if row.migration_name not in interrupted or not row.is_failed or row.logs or migration is None:
                continue
            probe = probe_effects(conn, analyze_migration(migration.script, migration.name, run.prisma_version), schema)
            step = f"apply:{row.migration_name}"
            if probe.state == "all":
                history.record_successful_step(conn, schema, row.id)
                history.record_migration_finished(conn, schema, row.id)
                repository.record_step(run.store, run.job.id, step, "finished", {"interrupted": True, "resolution": "finished: every effect is present"})
            elif probe.state == "none":
                history.mark_rolled_back(conn, schema, row.id)
                repository.record_step(run.store, run.job.id, step, "failed", {"interrupted": True, "resolution": "marked rolled back: no effect is present"})
            else:
                repository.record_step(run.store, run.job.id, step, "failed", {"interrupted": True, "resolution": f"left failed: effects {probe.state}"})
