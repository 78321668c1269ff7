"""The report's phrases: what a step did, what a failure's facts say, in a few plain words.

Shared by the builders (the checklist's evidence, the actions' and the timeline's summaries) and
the templates (service.reports.render registers the ones they use). Parts that speak of the same
thing read the same fact: when PostgreSQL undid the failed file whole (`undone`), the effects line,
the rollback section and the checklist all say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from service.prisma.connection_failures import describe_attempt
from service.recovery.blockers import describe_wait
from service.recovery.decide import SYNTAX_ERROR
from service.reports.events import ApprovalEvent, Transition
from service.reports.journal import NOTIFICATION_STEPS, StepRun, Told, delivery, handed_on, is_delivery
from service.reports.steps import (
    ApplyStep,
    AwsStep,
    CatalogWaitStep,
    DecideStep,
    DriftStep,
    FactsStep,
    FailureFacts,
    HistoryWrite,
    LintStep,
    LockWaitStep,
    PostconditionStep,
    RecoverStep,
    RollbackPlan,
    StatusStep,
    VerifyStep,
)
from service.store.repository import JobEvent

if TYPE_CHECKING:
    from service.reports.model import Decision

NOT_CHECKED = "not checked by deploy-gate, which cannot see the application: test the critical paths and watch the error rates"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def inline(text: Any) -> str:
    """One line of Markdown: newlines folded."""
    return " ".join(str(text).split())


def undone(facts: FailureFacts) -> str | None:
    """Why nothing the failed run did survived, when its facts say so (in decide's words); else None.

    The one fact that the effects line, the rollback section and the checklist read, so that a
    report never says "partial" of a run that PostgreSQL undid whole.
    """
    name = facts.migration_name or "the migration"
    if facts.sqlstate == SYNTAX_ERROR:
        return f"PostgreSQL rejected {name} before running any of it (a syntax error)"
    if facts.transactional and facts.sqlstate:
        return f"{name} has no transaction control, so PostgreSQL undid the whole file when it failed"
    return None


def nothing_to_roll_back(facts: FailureFacts) -> str | None:
    why = undone(facts)
    return f"nothing to roll back: {why}" if why else None


def effects_words(facts: FailureFacts, *, brief: bool = False) -> str:
    """What the effect probe found, and whether it is this run's work (`brief`: for the timeline)."""
    why = undone(facts)
    if why is None:
        return str(facts.effects) + ("" if brief or facts.fully_probed else " (not all of them can be checked in the catalog)")
    found = f"; the objects found (probe: {facts.effects}) were there before it ran and are not its effects" if facts.effects in ("partial", "all") else ""
    return "none left by this run" + ("" if brief else f": {why}") + found


def rollback_words(facts: FailureFacts) -> str:
    nothing = nothing_to_roll_back(facts)
    if nothing:
        return nothing
    source = facts.rollback_source or "none"
    if source == "none":
        return "no rollback SQL (no ROLLBACK SQL section, and no inverse could be derived)"
    complete = "complete" if facts.rollback_complete else "incomplete: " + "; ".join(facts.rollback_gaps[:2])
    return f"rollback SQL from its {source_words(source)}, {complete}"


def source_words(source: Any) -> str:
    return {"section": "ROLLBACK SQL section", "derived": "derived inverse"}.get(str(source), str(source))


def action_words(decision: Decision) -> str:
    """Why a recover job's decision needed no rollback SQL, or what it did instead."""
    facts = decision.read
    assert isinstance(facts, FailureFacts), "a recover job's decision"
    name = facts.migration_name or "the migration"
    why = undone(facts)
    left_nothing = why or f"the failure of {name} left no effects"
    why_again = left_nothing if why or facts.effects == "none" else f"every statement of {name} is guarded"
    return {
        "mark_applied": f"every effect of {name} was present" + (f" (there before it ran: {why})" if why else "") + ", so it was recorded as applied instead",
        "retry": f"{why_again}; {name} was marked rolled back and applied again",
        "mark_rolled_back": f"{left_nothing}; recording {name} as rolled back was enough",
        "none": "the decision was to stop and leave a plan to a person",
        "wait_for_lock": "the job waited for Prisma's migration lock",
    }.get(decision.action, f"the decision was {decision.action}")


def history_words(run: StepRun) -> str:
    """What a step that writes the history wrote to it."""
    wrote = HistoryWrite.from_dict(run.data)
    if run.last_part == "rollback_sql":
        rows = wrote.rolled_back_rows or ()
        return f"{len(rows)} failed history row(s) marked rolled back, in the rollback SQL's own transaction" if rows else "already recorded as rolled back"
    if run.last_part in ("deploy", "deploy_pending"):
        words = ([f"finished rows for {', '.join(wrote.applied)}"] if wrote.applied else []) + (
            [f"a failed row for {wrote.failed_migration}"] if wrote.failed else []
        )
        return "; ".join(words) or "nothing pending, no history row written"
    return step_summary(run)


def told_words(told: Told, target: str) -> str:
    details, at = told.details, when(told.at)
    attempt = f", attempt {details.attempt}" if details.attempt else ""
    return {
        "delivered": f"{told.kind} notification delivered at {at} (HTTP {details.status}{attempt})",
        "rejected": f"{told.kind} notification rejected by the receiver at {at} (HTTP {details.status}{attempt})",
        "gave_up": f"{told.kind} notification not delivered: gave up at {at} ({details.error or 'no answer'}{attempt})",
        "dropped": f"{told.kind} notification dropped at {at}: {details.reason or 'not configured where it was delivered'}",
        "enqueued": f"{told.kind} notification enqueued at {at}; no delivery journaled yet",
        "not_configured": f"no {told.kind} notification is configured for {target}, so none was sent",
        "failed": f"{told.kind} notification could not be handed on at {at} (the worker's log says why)",
    }.get(told.outcome, f"{told.kind} notification planned at {at}; whether it was sent is not journaled")


def step_summary(run: StepRun) -> str:
    """What a step did, in a few plain words, from what it journaled."""
    if run.outcome == "running":
        return "started, not finished"
    if run.outcome == "failed":
        failed = run.failure
        return (failed.error or failed.resolution or "failed") + (f" ({failed.code})" if failed.code else "")
    return _reading_summary(run) or _writing_summary(run) or aws_summary(run) or generic_summary(run.data)


def _reading_summary(run: StepRun) -> str | None:
    """A step that only read (or waited): None when the step is not one of these."""
    family, data = run.family, run.data
    if family == "facts":
        facts = FactsStep.from_dict(data).facts
        return f"{facts.migration_name}: {facts.sqlstate or 'no SQLSTATE'} ({facts.error_class}), effects {effects_words(facts, brief=True)}"
    if family == "decide":
        return f"decided: {DecideStep.from_dict(data).action}"
    if family == "wait_for_lock":
        holder = LockWaitStep.from_dict(data)
        return f"Prisma's migration lock held by pid {holder.pid} ({holder.application_name or 'no application name'})"
    if family in ("recheck", "status"):
        status = StatusStep.from_dict(data)
        pending, failed = ", ".join(status.to_deploy), ", ".join(status.failed)
        read = "history re-read: " if family == "recheck" else "history read: "
        return read + (f"failed: {failed}" if failed else f"to deploy: {pending}" if pending else "up to date")
    if family == "lint":
        findings = LintStep.from_dict(data).findings
        errors = sum(1 for f in findings if f.severity == "error")
        return f"{len(findings)} lint finding(s), {errors} at error level" if findings else "no lint findings"
    if family == "wait_for_blockers" and data.get("outcome"):
        return describe_wait(data)  # service.recovery.blockers owns that step's keys and its words
    if family == "wait_for_catalog":
        look = CatalogWaitStep.from_dict(data)
        return f"{look.message}; next look in {look.next_look_in_seconds} s" if look.message else None
    if family in ("wait_for_target", "wait_for_shadow") and data.get("reason"):
        return describe_attempt(data)  # service.jobs.unreachable owns that step's keys
    if family == "postcondition":
        check = PostconditionStep.from_dict(data)
        basis = "the shadow's replay" if check.basis == "replay" else "the shapes their SQL states"
        settled = ", ".join(check.migrations)
        return f"{settled}: not in place: {'; '.join(check.problems[:3])}" if check.problems else f"{settled}: every effect in place, compared with {basis}"
    if family == "verify":
        verified = VerifyStep.from_dict(data).verified
        return "verified on the shadow server" if verified else "did not pass on the shadow server" if verified is False else "not verified: no shadow server"
    if family == "plan":
        plan = RollbackPlan.from_dict(data)
        if plan.refused is None:  # a restore's plan
            return None
        return "refused: " + "; ".join(plan.refused) if plan.refused else f"rollback SQL from its {plan.source}"
    if family in NOTIFICATION_STEPS:
        return told_words(handed_on(run), "the target")
    if family == "drift":
        return drift_summary(DriftStep.from_dict(data))
    return None


def drift_summary(drift: DriftStep) -> str:
    """A drift step in a line: not checked and why, none, or how many differences and the first."""
    if not drift.checked:
        return f"drift not checked: {drift.error or 'no reason recorded'}"
    count = len(drift.differences)
    ignored = f" ({len(drift.ignored)} ignored)" if drift.ignored else ""
    if not count:
        return f"no drift from the {len(drift.applied)} applied migration{'' if len(drift.applied) == 1 else 's'}{ignored}"
    more = f", and {count - 1} more" if count > 1 else ""
    return f"drift: {count} difference{'' if count == 1 else 's'}{ignored}: {drift.differences[0].text}{more}"


def _writing_summary(run: StepRun) -> str | None:
    """A step that changed something: None when the step is not one of these."""
    family, last = run.family, run.last_part
    if family == "recover":
        started = RecoverStep.from_dict(run.data)
        return f"started recover job {started.job}" + (f": {started.because}" if started.because else "") if started.job else None
    if family == "apply":
        resolution = ApplyStep.from_dict(run.data).resolution
        return f"applied {run.step.partition(':')[2]}" + (f" ({resolution})" if resolution else "")
    wrote = HistoryWrite.from_dict(run.data)
    if last == "mark_rolled_back":
        rows = wrote.marked_rolled_back or ()
        return f"marked {len(rows)} failed history row(s) rolled back" if rows else "nothing left to mark rolled back"
    if last == "mark_applied":
        return "recorded as applied (a finished history row)" if wrote.marked_applied else "already recorded as applied"
    if last == "drop_invalid_indexes":
        return f"dropped INVALID indexes: {', '.join(wrote.dropped) or 'none'}"
    if last in ("rollback_sql", "execute") and (wrote.rolled_back_rows is not None or wrote.probed):
        rows = wrote.rolled_back_rows or ()
        if not rows:
            return wrote.note or "nothing left to roll back"
        ran = "rollback SQL ran in one transaction under Prisma's lock"
        return f"{ran}; effects left afterwards: {wrote.effects_left}; {len(rows)} history row(s) marked rolled back"
    if last in ("deploy", "deploy_pending") and wrote.succeeded is not None:
        applied = ", ".join(wrote.applied)
        if wrote.succeeded:
            return f"applied: {applied}" if applied else "nothing pending to apply"
        reason = (
            f"{wrote.failed_migration} failed ({wrote.failed_sqlstate or 'no SQLSTATE'}: {wrote.failed_message})" if wrote.failed
            else wrote.error or "failed"
        )  # fmt: skip
        return (f"applied: {applied}; " if applied else "") + reason
    return None


# What a restore's, cut-over's or failover's `start*` and rename steps began, by the action they journal.
_STARTED = {
    "restore_instance": "AWS is restoring to the new instance {}",
    "restore_cluster": "AWS is restoring to the new Aurora cluster {}",
    "create_instance": "AWS is creating the writer instance {} in the new cluster",
    "rename_old_away": "AWS is renaming the old instance away, to {}",
    "rename_new_in": "AWS is renaming the restored instance to {}",
    "promote_replica": "AWS is promoting the read replica {} to a standalone instance",
    "failover_cluster": "AWS is failing the Aurora cluster over to its reader instance {}",
}


def aws_summary(run: StepRun) -> str | None:
    """A restore's, cut-over's or failover's AWS step in words (what began, what AWS said); None for any other step."""
    family, parts = run.family, run.step.split(":")
    step = AwsStep.from_dict(run.data)
    if family in ("start", "start_instance") or parts[:2] in (["cutover", "rename_old"], ["cutover", "rename_new"]):
        began = _STARTED.get(step.action or "", "AWS call made for {}").format(step.identifier or "the new resource")
        return began + (" (an earlier run had already asked for it)" if step.resumed else "")
    if family == "poll":
        if step.state == "available":  # not journaled as a poll: `endpoint` follows at once
            return f"{step.identifier} is available"
        if step.state == "failed":
            return f"AWS reports {step.identifier} {step.status}: it will not become available"
        return f"asked AWS: {step.identifier} is {step.status}, not available yet; asking again later"
    if family == "endpoint" and step.replica:  # a failover's
        return f"{step.status}; the application connects to {step.address}"
    if family == "endpoint":
        return f"{step.identifier} is available at {step.address}"
    if parts[:2] == ["cutover", "poll"]:
        return f"asked AWS: {step.status}; asking again later"
    if parts[:2] == ["cutover", "done"]:
        return f"{step.status} at {step.address}" if step.address else step.status
    if parts[:2] == ["cutover", "stuck"]:
        return step.reason
    return None


def generic_summary(data: Mapping[str, Any]) -> str:
    """A step (or note) this package has no record for: its plain values, briefly."""
    if isinstance(data.get("summary"), str):
        return str(data["summary"])
    parts = [f"{key}: {value}" for key, value in data.items() if isinstance(value, str | int | float) and value != ""]
    text = ", ".join(parts[:6])
    return text[:300] if text else "done"


def timeline_summary(event: JobEvent) -> str:
    """One journal event in words."""
    data = event.data
    if event.kind == "transition":
        moved = Transition.from_dict(data)
        if event.from_state is None:
            return f"created: {moved.kind} job on {moved.target}, queued".replace(" job on ,", ",")
        summary = f"{event.from_state} → {event.to_state}"
        if moved.verdict:
            summary += f", verdict {moved.verdict}"
        return summary + "".join(f", {words} {who}" for words, who in moved.by)
    if event.kind == "approval":
        answer = ApprovalEvent.from_dict(data)
        return f"{'approved' if answer.approved else 'rejected'} by {answer.by}" + (f": {answer.comment}" if answer.comment else "")
    if event.kind == "step_started":
        return "started"
    if event.kind in ("step_finished", "step_failed"):
        return step_summary(StepRun(event.step or "", None, event.at, event.kind.removeprefix("step_"), dict(data)))
    if is_delivery(event):
        return told_words(delivery(event), "the target")
    return str(data.get("message") or data.get("notification") or generic_summary(data))


def fact_lines(decision: Decision) -> list[str]:
    """A decision's facts in plain words (the JSON carries them all)."""
    facts = decision.read
    if not isinstance(facts, FailureFacts):  # a rollback job's plan
        verified = facts.rollback_verified
        return [
            f"Rollback SQL from: {facts.rollback_source or 'none'}",
            "Verified on the shadow server: " + ("yes" if verified else "no" if verified is False else "not verified (no shadow server)"),
            *(f"Refused: {reason}" for reason in facts.refused),
        ]
    if not decision.facts:
        return ["none recorded"]

    def yes(value: bool | None) -> str:
        return "yes" if value else "no"

    verified = facts.rollback_verified
    nothing = nothing_to_roll_back(facts)
    if nothing:
        rollback = f"Rollback SQL: {nothing}" + (
            f"; its {source_words(facts.rollback_source)} is not to be run" if facts.rollback_source not in (None, "none") else ""
        )
    else:
        rollback = f"Rollback SQL: {facts.rollback_source}, {'complete' if facts.rollback_complete else 'incomplete'}, " + (
            "verified on the shadow server" if verified else "failed verification" if verified is False else "not verified"
        )
    lines = [
        f"Error: {facts.sqlstate or 'no SQLSTATE'} ({facts.error_class})",
        f"The bundle's file matches the failed run's checksum: {yes(facts.in_bundle)}; it parses: {yes(facts.parses)}",
        f"Effects found in the database: {effects_words(facts)}",
        f"Transactional (PostgreSQL undoes all of it on failure): {yes(facts.transactional)}"
        + (f" ({'; '.join(facts.not_transactional_because)})" if facts.not_transactional_because else ""),
        f"Idempotent (every statement guarded): {yes(facts.idempotent)}" + (f" ({'; '.join(facts.unguarded[:3])})" if facts.unguarded else ""),
        rollback,
        f"Failed runs: {facts.attempts}; automatic retries allowed: {facts.max_automatic_retries}; left: {facts.retries_left}",
        f"The policy allows automatic rollback: {yes(facts.automatic_rollback)}",
    ]
    if facts.invalid_indexes:
        lines.append(f"INVALID indexes: {', '.join(facts.invalid_indexes)}")
    if facts.lock_holder:
        lines.append(f"Prisma's lock held by: {facts.lock_holder}")
    return lines
