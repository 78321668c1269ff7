"""`rollback` jobs: undo a migration that was applied successfully (runbook scenario 2, procedure A).

Plan from the rollback section or the derived inverse, undoing only what the migration made,
verify it on the shadow server, wait for approval when the policy asks (always when it could not
be verified, and when it would drop an object the migration did not make, or data), run it in one
transaction that also sets `rolled_back_at` on the migration's finished row, and check again.
Prisma then treats the migration as not applied.
"""

from __future__ import annotations

from typing import Any

import psycopg

from service.analysis.facts.analyze import analyze_migration
from service.analysis.replay import ReplayCache
from service.jobs.states import Verdict
from service.jobs.steps import AwaitingApproval, JobRun
from service.prisma import history
from service.prisma.deploy import SessionTimeouts
from service.prisma.status import read_status
from service.recovery import actions
from service.recovery.failure import RollbackVerifier, existed_before
from service.recovery.ownership import applied_migration_ownership, owned_rollback_plan
from service.recovery.rollback_targets import check_rollback_targets
from service.reports.steps import VerifyStep


def run_rollback(run: JobRun, conn: psycopg.Connection, verify: RollbackVerifier | None, replay: ReplayCache | None = None) -> tuple[Verdict, list[str]]:
    name = run.job.params["migration"]
    plan = run.step("plan", lambda: _plan(conn, run, name, replay))
    if plan["refused"]:
        return Verdict.BLOCKED, plan["refused"]
    checked = VerifyStep.from_dict(run.step("verify", lambda: _verify(run, name, plan["sql"], verify)))
    if checked.verified is False:
        return Verdict.BLOCKED, [f"the rollback SQL of {name} did not pass on the shadow server: " + "; ".join(checked.problems[:3])]
    reasons = [f"rollback SQL of {name} from its {plan['source']}"]
    reasons.append("verified on the shadow server" if checked.verified else "not verified: the target has no shadow server")
    targets = plan.get("rollback_targets", [])
    # Dropping an object the migration did not make, or data, is for a person, whatever the policy.
    needs_person = [t["needs_approval"] for t in targets if t.get("needs_approval")]
    reasons.extend(f"a person must approve: it {note}" for note in needs_person)
    policy = run.target.policy
    approved_objects = None
    if policy.rollbacks_need_approval or not checked.verified or needs_person:
        approval = run.approval("execute")
        if approval is None:
            steps = [f"check: it {note}" for note in needs_person] + [
                f"under Prisma's lock, in one transaction on {run.target.name}: run the rollback SQL of {name}",
                f"require that none of the effects of {name} remains, else undo everything",
                f"set rolled_back_at on the finished history row of {name}, then commit",
            ]
            details = {"migration": name, "sql": plan["sql"], "source": plan["source"], "rollback_targets": targets}
            raise AwaitingApproval("execute", steps, reasons, details)
        reasons.append(f"approved by {approval['by']}" + (f": {approval['comment']}" if approval.get("comment") else ""))
        approved_objects = [t["object"] for t in targets if t.get("needs_approval")]
    timeouts = SessionTimeouts(policy.lock_timeout_ms, policy.statement_timeout_ms)
    schema = run.target.database.schema

    def execute() -> dict[str, Any]:
        return actions.run_rollback_sql(
            conn,
            schema,
            run.migrations,
            name,
            plan["sql"],
            timeouts=timeouts,
            lock_wait=policy.lock_wait_seconds,
            finished_row=True,
            approved_objects=approved_objects,
            pre_existing=existed_before(replay, run.migrations, name),
        )

    try:
        run.step("execute", execute)
    except actions.RollbackFailed as error:
        return Verdict.BLOCKED, reasons + [error.headline]
    status = run.step("recheck", lambda: read_status(conn, schema, run.migrations).to_dict())
    state = next((m["state"] for m in status["migrations"] if m["name"] == name), None)
    return Verdict.PROCEED, reasons + [
        f"{name} was rolled back and is recorded so ({state}); remove it from the migrations or fix forward, or the next deploy applies it again"
    ]


def _plan(conn: psycopg.Connection, run: JobRun, name: str, replay: ReplayCache | None) -> dict[str, Any]:
    rows = history.read_history(conn, run.target.database.schema) or []
    applied = [row for row in rows if row.is_applied]
    mine = [row for row in applied if row.migration_name == name]
    refused: list[str] = []
    if not mine:
        refused.append(f"{name} is not applied on {run.target.name}, so there is nothing to roll back")
    later = sorted({row.migration_name for row in applied if mine and row.started_at > mine[-1].started_at})
    if later:
        refused.append(f"migrations applied after {name} may depend on it: roll back {', '.join(later)} first")
    migration = run.local.get(name) if run.local else None
    if migration is None:
        refused.append(f"the bundle has no {name}")
    elif mine and not all(migration.matches_checksum(row.checksum) for row in mine):
        refused.append(f"the bundle's {name} differs from the one that was applied; its rollback SQL is not trusted")
    if refused or migration is None:
        return {"refused": refused, "sql": "", "source": "none"}
    schema = run.target.database.schema
    analysis = analyze_migration(migration.script, name)
    ownership = applied_migration_ownership(analysis, schema, pre_existing=existed_before(replay, run.migrations, name))
    plan = owned_rollback_plan(migration.script, analysis, ownership)
    if not plan.complete:
        refused.append(f"the rollback of {name} is incomplete: " + "; ".join(r.message for r in plan.reasons[:3]))
    elif not plan.sql.strip():
        refused.append(f"{name} changes nothing the catalog shows; there is nothing to run")
    elif not analyze_migration(plan.sql).transactional:
        refused.append(f"the rollback SQL of {name} cannot run in one transaction")
    targets = check_rollback_targets(conn, schema, plan.sql, ownership) if not refused else None
    return {
        "refused": refused,
        "sql": plan.sql,
        "source": plan.source,
        "reasons": [r.message for r in plan.reasons],
        "left_out": [r.message for r in plan.notes],
        "ownership": ownership.to_dict(),
        "rollback_targets": targets.to_dict() if targets else [],
    }


def _verify(run: JobRun, name: str, sql: str, verify: RollbackVerifier | None) -> dict[str, Any]:
    outcome = verify(run.migrations, name, sql, None) if verify is not None else None
    if outcome is None:
        return VerifyStep(None).to_dict()
    verified, details = outcome
    problems = [str(e) for e in details.get("errors", [])] + [str(d) for d in details.get("differences", [])]
    return {**VerifyStep(verified, tuple(problems)).to_dict(), "details": details}
