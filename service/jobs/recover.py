"""`recover` jobs: gather the facts about a failed migration, decide, act, and check again.

Rounds: each round journals its facts (`facts:N`) and its decision (`decide:N`), then acts in
sub-steps (`act:N:<what>`), each safe to run again after a crash. A re-apply that fails again
starts the next round with one attempt more, so the loop ends when retries run out. A decision
that needs a person stops the job in `waiting_approval` with the plan; an approval resumes it at
the same step.
"""

from __future__ import annotations

from typing import Any

import psycopg

from service.analysis.replay import ReplayCache
from service.jobs.lock_wait import wait_for_blockers
from service.jobs.states import Verdict
from service.jobs.steps import AwaitingApproval, Deferred, JobRun
from service.prisma import history
from service.prisma.deploy import SessionTimeouts, deploy
from service.prisma.errors import FoundFailedMigrations
from service.prisma.status import read_status
from service.recovery import actions
from service.recovery.decide import Action, decide
from service.recovery.failure import RollbackVerifier, existed_before, first_failed, gather_failure_facts
from service.recovery.postcondition import check_settled
from service.reports.steps import PostconditionStep
from service.store import repository

# How long a job waits before it looks at a held lock again.
LOCK_RECHECK_SECONDS = 3.0
# A bound on rounds, beyond the retries the policy allows, against a loop nobody foresaw.
MAX_ROUNDS = 20


def run_recover(run: JobRun, conn: psycopg.Connection, verify: RollbackVerifier | None, replay: ReplayCache | None = None) -> tuple[Verdict, list[str]]:
    verdict, reasons = _recover(run, conn, verify, replay)
    if verdict is Verdict.PROCEED:
        verdict, reasons = proceed_if_settled(run, conn, _settled_by(run), replay, reasons)
    # Read the history again after acting: what the report shows as "history updated".
    run.step("recheck", lambda: read_status(conn, run.target.database.schema, run.migrations).to_dict())
    return verdict, reasons


def proceed_if_settled(run: JobRun, conn: psycopg.Connection, names: list[str], replay: ReplayCache | None, reasons: list[str]) -> tuple[Verdict, list[str]]:
    """`proceed` only when every migration the job applied or marked applied is really in place.

    When one is not (a guarded create that met an object of another shape, an INVALID index), the
    migration has run and undoing it could lose data: the job waits for a person, who makes the
    objects what the migrations define and approves a second look, or rejects (blocked).
    """
    if not names:
        return Verdict.PROCEED, reasons

    def check() -> dict[str, Any]:
        return check_settled(conn, run.target.database.schema, run.migrations, names, replay)

    checked = PostconditionStep.from_dict(run.step("postcondition", check))
    if not checked.problems:
        return Verdict.PROCEED, reasons
    basis = "compared with the shadow's replay" if checked.basis == "replay" else "compared with the shapes their SQL states"
    found = [f"not as the migrations leave it ({basis}): {problem}" for problem in checked.problems]
    approval = run.approval("postcondition")
    if approval is None:
        plan = [
            f"look at each object named: {', '.join(checked.migrations)} ran, but left it otherwise than the migrations define it (an object made by hand before, say)",
            "make it what the migrations define (re-create it, rebuild an INVALID index with REINDEX INDEX CONCURRENTLY), or fix forward with a new migration",
            "approve to check again: proceed if every effect is in place then, blocked if not",
            "or reject: blocked; the migrations stay recorded as applied",
        ]
        raise AwaitingApproval("postcondition", plan, reasons + found, {"migrations": list(checked.migrations), "problems": list(checked.problems)})
    approved = f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else "")
    rechecked = PostconditionStep.from_dict(run.step("postcondition:recheck", check))
    if rechecked.problems:
        return Verdict.BLOCKED, reasons + [approved] + [f"still not as the migrations leave it: {problem}" for problem in rechecked.problems]
    return Verdict.PROCEED, reasons + [approved, "checked again: every effect is in place"]


def _settled_by(run: JobRun) -> list[str]:
    """The migrations this job applied or recorded as applied, from its journal, and those the deploy
    it decides for applied before it failed: the deploy's `proceed` is this job's."""
    names: list[str] = []
    if run.job.parent_id:
        parent = repository.finished_steps(run.store, run.job.parent_id)
        names.extend(step.removeprefix("apply:") for step in parent if step.startswith("apply:"))
    for step, data in run.finished.items():
        if step.endswith(":mark_applied"):
            round_number = step.split(":")[1]
            names.append(run.finished[f"facts:{round_number}"]["facts"]["migration_name"])
        elif step.endswith((":deploy", ":deploy_pending")):
            names.extend(data.get("applied") or [])
    return names


def _recover(run: JobRun, conn: psycopg.Connection, verify: RollbackVerifier | None, replay: ReplayCache | None) -> tuple[Verdict, list[str]]:
    schema = run.target.database.schema
    for round_number in range(1, MAX_ROUNDS + 1):
        decided = run.finished.get(f"decide:{round_number}")
        if decided is None:
            rows = history.read_history(conn, schema) or []
            row = first_failed(rows)
            if row is None:
                outcome = _nothing_failed(run, conn, round_number)
                if outcome is not None:
                    return outcome
                continue
            waits = repository.count_finished_steps(run.store, run.job.id, "wait_for_lock:")
            evidence = gather_failure_facts(
                conn,
                schema,
                run.migrations,
                row,
                rows,
                run.target.policy,
                verify=verify,
                replay=replay,
                lock_waits=waits,
                interrupted_here=not (row.logs or "").strip() and row.migration_name in run.interrupted_applies(),
                prisma_version=run.prisma_version,
            )
            decision = decide(evidence.facts)
            if decision.action is Action.WAIT_FOR_LOCK:
                # run.step calls it at once, before the loop moves on.
                run.step(f"wait_for_lock:{waits + 1}", lambda: {"lock_holder": evidence.details["lock_holder"], "reasons": list(decision.reasons)})  # noqa: B023
                raise Deferred(LOCK_RECHECK_SECONDS, decision.reasons[0])
            run.step(f"facts:{round_number}", evidence.to_dict)
            decided = run.step(f"decide:{round_number}", decision.to_dict)
        outcome = _act(run, conn, round_number, decided, replay)
        if outcome is not None:
            return outcome
    return Verdict.BLOCKED, [f"gave up after {MAX_ROUNDS} rounds of recovery"]


def _act(run: JobRun, conn: psycopg.Connection, round_number: int, decided: dict[str, Any], replay: ReplayCache | None) -> tuple[Verdict, list[str]] | None:
    """Carry out a decision; None when a re-apply failed again and another round must decide."""
    facts = run.finished[f"facts:{round_number}"]
    name = facts["facts"]["migration_name"]
    schema = run.target.database.schema
    policy = run.target.policy
    lock_wait = policy.lock_wait_seconds
    action = Action(decided["action"])
    reasons = list(decided["reasons"])
    prefix = f"act:{round_number}"
    if decided["needs_approval"]:
        approval = run.approval(prefix)
        if approval is None:
            details = {"action": decided["action"], "migration": name, "rollback": facts.get("rollback"), "rollback_targets": facts.get("rollback_targets", [])}
            raise AwaitingApproval(prefix, decided["plan"], reasons, details)
        reasons.append(f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else ""))

    if action is Action.NONE:
        return Verdict.BLOCKED, reasons + [f"proposed: {step}" for step in decided["plan"]]
    if action is Action.MARK_APPLIED:
        run.step(f"{prefix}:mark_applied", lambda: actions.mark_applied(conn, schema, run.migrations, name, lock_wait))
        return _continue_deploy(run, conn, prefix, reasons)
    timeouts = SessionTimeouts(policy.lock_timeout_ms, policy.statement_timeout_ms)

    def drop_invalid_indexes() -> None:
        # Before anything marks the migration rolled back: a retry's IF NOT EXISTS would keep them.
        if decided.get("drop_invalid_indexes"):
            run.step(f"{prefix}:drop_invalid_indexes", lambda: actions.drop_invalid_indexes(conn, decided["drop_invalid_indexes"], lock_wait, timeouts))

    if action is Action.MARK_ROLLED_BACK:
        drop_invalid_indexes()
        run.step(f"{prefix}:mark_rolled_back", lambda: actions.mark_rolled_back(conn, schema, name, lock_wait))
        return Verdict.BLOCKED, reasons + [f"next: {step}" for step in decided["plan"]]
    if action is Action.RETRY:
        # The sessions in the way are waited out first: the drops would queue behind them too.
        # A lock that outlasts the wait blocks the verdict rather than using up the retry.
        gave_up = wait_for_blockers(run, conn, round_number, reasons)
        if gave_up is not None and decided.get("drop_invalid_indexes"):
            # The INVALID indexes cannot go while those sessions hold on (a drop waits for them too),
            # so blocked would leave the target otherwise than before: a person decides.
            step = f"{prefix}:leftovers"
            approval = run.approval(step)
            if approval is None:
                invalid = ", ".join(decided["drop_invalid_indexes"])
                plan = [
                    f"end the sessions named (or let them finish): they hold locks the retry and the drop of {invalid} wait for",
                    f"approve to drop the INVALID indexes {invalid} and apply {name} again",
                    f"or reject: blocked; {invalid} stays INVALID (PostgreSQL does not use it) until dropped by hand",
                ]
                raise AwaitingApproval(step, plan, gave_up[1], {"action": "retry", "migration": name, "invalid_indexes": decided["drop_invalid_indexes"]})
            reasons = reasons + [f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else "")]
            gave_up = None
        drop_invalid_indexes()
        run.step(f"{prefix}:mark_rolled_back", lambda: actions.mark_rolled_back(conn, schema, name, lock_wait))
        return gave_up or _reapply(run, conn, prefix, reasons)
    if action is Action.RUN_ROLLBACK:
        sql = facts["rollback"]["sql"]
        # An approval covers the objects its plan named, and nothing the live check finds later.
        approved = [t["object"] for t in facts.get("rollback_targets", []) if t.get("needs_approval")] if decided["needs_approval"] else None
        try:
            run.step(
                f"{prefix}:rollback_sql",
                lambda: actions.run_rollback_sql(
                    conn,
                    schema,
                    run.migrations,
                    name,
                    sql,
                    timeouts=timeouts,
                    lock_wait=lock_wait,
                    approved_objects=approved,
                    pre_existing=existed_before(replay, run.migrations, name),
                    prisma_version=run.prisma_version,
                ),
            )
        except actions.RollbackFailed as error:
            return Verdict.BLOCKED, reasons + [error.headline, f"{name} stays failed; nothing was changed"]
        # Once the migration is rolled back: what its rollback SQL left of them (it may not name them).
        drop_invalid_indexes()
        if decided["then_retry"]:
            reasons = reasons + [f"{name} was rolled back by its rollback SQL"]
            return wait_for_blockers(run, conn, round_number, reasons) or _reapply(run, conn, prefix, reasons)
        return Verdict.BLOCKED, reasons + [f"{name} was rolled back by its rollback SQL and recorded as rolled back; fix it forward"]
    raise ValueError(f"no way to carry out {action}")


def _reapply(run: JobRun, conn: psycopg.Connection, prefix: str, reasons: list[str]) -> tuple[Verdict, list[str]] | None:
    outcome = _deploy_step(run, conn, f"{prefix}:deploy")
    if not outcome["succeeded"]:
        return None
    return Verdict.PROCEED, reasons + _applied(outcome)


def _continue_deploy(run: JobRun, conn: psycopg.Connection, prefix: str, reasons: list[str]) -> tuple[Verdict, list[str]] | None:
    """After marking a migration applied, an apply job goes on with the migrations after it."""
    if not run.job.params.get("apply", False):
        return Verdict.PROCEED, reasons
    return _reapply(run, conn, prefix, reasons)


def _nothing_failed(run: JobRun, conn: psycopg.Connection, round_number: int) -> tuple[Verdict, list[str]] | None:
    """No failed migration (any more): apply what is pending if the job applies, else report.

    None when applying failed: the next round decides about that failure.
    """
    if run.job.params.get("apply", False):
        outcome = _deploy_step(run, conn, f"act:{round_number}:deploy_pending")
        if not outcome["succeeded"]:
            return None
        return Verdict.PROCEED, ["no failed migration"] + _applied(outcome)
    status = run.step("recheck", lambda: read_status(conn, run.target.database.schema, run.migrations).to_dict())
    pending = status["to_deploy"]
    if round_number == 1:
        return Verdict.PROCEED, ["no failed migration"] + ([f"pending: {', '.join(pending)}"] if pending else [])
    return Verdict.PROCEED, [f"pending: {', '.join(pending)}"] if pending else []


def _deploy_step(run: JobRun, conn: psycopg.Connection, step: str) -> dict[str, Any]:
    policy = run.target.policy
    timeouts = SessionTimeouts(policy.lock_timeout_ms, policy.statement_timeout_ms)

    def apply() -> dict[str, Any]:
        try:
            outcome = deploy(
                conn,
                run.target.database.schema,
                run.migrations,
                timeouts=timeouts,
                lock_wait=policy.lock_wait_seconds,
                on_progress=run.record_apply,
                prisma_version=run.prisma_version,
            )
        except FoundFailedMigrations as error:
            # A run of this step that died mid-migration left a failed row: the next round settles it.
            return {"succeeded": False, "applied": [], "error": error.headline}
        return outcome.to_dict()

    return run.step(step, apply)


def _applied(outcome: dict[str, Any]) -> list[str]:
    return [f"applied: {', '.join(outcome['applied'])}"] if outcome.get("applied") else []
