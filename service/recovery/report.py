"""Job reports, from the journal: the runbook's checklist for recover, rollback and restore jobs,
and a shorter report for check and deploy jobs.

`build_report(job, events)` reads only a job and its journal (no database, no Flask). For a
recover, rollback or restore job it says what failed, what the decision rested on, what was done
and when, who approved it, and where the history ended up; then it walks the nine items of the
runbook's "Migration Rollback Checklist" (seed/MIGRATION_ROLLBACK.md) and marks each done, not
done, or not applicable, with the time and the journal entry that shows it. An item is done only
when the journal shows it happened: "team notified" when the notification task journaled a
delivery (enqueued is not delivered), "reviewed" when a person approved a plan that showed the SQL
(deploy-gate parsing it is no review), and "functionality verified" never: deploy-gate cannot see
the application. Parts that speak of the same thing read the same fact: when PostgreSQL undid the
failed file whole (`_undone`), the effects line, the rollback section and the checklist all say so.

A check or deploy job gets no checklist (nothing was rolled back): its report is the verdict with
its reasons, each migration's state as the `status` step read it, the `lint` step's findings, the
migrations applied, and the recover job that took over a failed apply, if one did.

Job facts are secret-free, and the report adds nothing that is not in them (no connection strings,
no verification server names).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.jobs.states import TERMINAL, JobKind, JobState
from service.recovery.blockers import describe_wait
from service.recovery.decide import SYNTAX_ERROR
from service.store.repository import Job, JobEvent

# Jobs that gate a deploy: their report has no checklist (see the module docstring).
GATE_KINDS = frozenset({JobKind.CHECK, JobKind.DEPLOY})

# The runbook's checklist, in its order and words.
CHECKLIST = (
    ("migration_identified", "Identified the problematic migration"),
    ("sql_reviewed", "Reviewed the migration SQL and rollback SQL"),
    ("rollback_tested", "Tested rollback in staging/local"),
    ("backup_accessible", "Have database backup accessible"),
    ("team_notified", "Team notified of rollback"),
    ("rollback_executed", "Executed rollback SQL"),
    ("history_updated", "Updated Prisma migration history"),
    ("functionality_verified", "Verified application functionality"),
    ("incident_documented", "Documented the incident"),
)

# Steps that only read: everything else a job journals changed something (or tried to).
_READING_STEPS = frozenset({"facts", "decide", "plan", "verify", "recheck", "wait_for_lock", "wait_for_blockers", "wait_for_catalog", "poll", "endpoint", "status", "lint"})
# Sub-steps that only record what AWS said (`cutover:poll:2`, `snapshot:available`).
_READING_PARTS = frozenset({"poll", "available", "done"})
_NOTIFICATION_STEPS = ("notify", "notification")
_NOT_CHECKED = "not checked by deploy-gate, which cannot see the application: test the critical paths and watch the error rates"
_NO_NOTIFICATION = "no notification recorded"


@dataclass(frozen=True)
class StepRun:
    """One run of a step: from its `step_started` to its `step_finished` or `step_failed`."""

    step: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str  # finished | failed | running
    data: dict[str, Any]

    @property
    def family(self) -> str:
        return self.step.split(":", 1)[0]

    @property
    def last_part(self) -> str:
        return self.step.rsplit(":", 1)[-1]

    @property
    def at(self) -> datetime | None:
        return self.ended_at or self.started_at


@dataclass(frozen=True)
class Told:
    """One notification as the journal shows it: handed on by the job (`notify:*`), or its delivery's outcome (a note)."""

    at: datetime | None
    kind: str
    outcome: str  # delivered | rejected | gave_up | dropped (the delivery task); enqueued | not_configured | failed | unknown (the job)
    data: dict[str, Any]

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    def words(self, target: str) -> str:
        data, when = self.data, _when(self.at)
        attempt = f", attempt {data['attempt']}" if data.get("attempt") else ""
        return {
            "delivered": f"{self.kind} notification delivered at {when} (HTTP {data.get('status')}{attempt})",
            "rejected": f"{self.kind} notification rejected by the receiver at {when} (HTTP {data.get('status')}{attempt})",
            "gave_up": f"{self.kind} notification not delivered: gave up at {when} ({data.get('error') or 'no answer'}{attempt})",
            "dropped": f"{self.kind} notification dropped at {when}: {data.get('reason') or 'not configured where it was delivered'}",
            "enqueued": f"{self.kind} notification enqueued at {when}; no delivery journaled yet",
            "not_configured": f"no {self.kind} notification is configured for {target}, so none was sent",
            "failed": f"{self.kind} notification could not be handed on at {when} (the worker's log says why)",
        }.get(self.outcome, f"{self.kind} notification planned at {when}; whether it was sent is not journaled")


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    item: str
    done: bool | None  # None: not applicable to this job
    at: datetime | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "item": self.item, "done": self.done, "at": _iso(self.at), "evidence": self.evidence}


@dataclass(frozen=True)
class Failure:
    migration: str
    sqlstate: str | None
    message: str | None
    error_class: str | None
    attempts: int | None
    started_at: datetime | None  # when the run that failed started (its history row)

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration, "sqlstate": self.sqlstate, "message": self.message,
            "error_class": self.error_class, "attempts": self.attempts, "started_at": _iso(self.started_at),
        }  # fmt: skip


@dataclass(frozen=True)
class Decision:
    step: str
    at: datetime | None
    action: str
    verdict: str | None
    reasons: list[str]
    plan: list[str]
    needs_approval: bool
    facts: dict[str, Any]  # what the decision rested on

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "at": _iso(self.at), "action": self.action, "verdict": self.verdict, "reasons": self.reasons,
            "plan": self.plan, "needs_approval": self.needs_approval, "facts": self.facts,
        }  # fmt: skip


@dataclass(frozen=True)
class RollbackSql:
    source: str  # section | derived | none
    complete: bool
    verified: bool | None
    sql: str
    gaps: list[str]
    # Set when the facts say the failed run left nothing (PostgreSQL undid it): the SQL is not to be run.
    not_needed_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "complete": self.complete, "verified": self.verified, "sql": self.sql, "gaps": self.gaps,
            "not_needed_because": self.not_needed_because,
        }  # fmt: skip


@dataclass(frozen=True)
class Action:
    step: str
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str  # finished | failed | running
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at), "outcome": self.outcome, "summary": self.summary}


@dataclass(frozen=True)
class Approval:
    step: str | None
    approved: bool
    by: str | None
    at: datetime
    comment: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "approved": self.approved, "by": self.by, "at": _iso(self.at), "comment": self.comment}


@dataclass(frozen=True)
class PendingApproval:
    step: str | None
    plan: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "plan": self.plan}


@dataclass(frozen=True)
class HistoryState:
    checked: bool  # re-read after acting (the `recheck` step)
    step: str | None
    at: datetime | None
    migration_state: str | None
    up_to_date: bool | None
    to_deploy: list[str]
    failed: list[str]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked, "step": self.step, "at": _iso(self.at), "migration_state": self.migration_state,
            "up_to_date": self.up_to_date, "to_deploy": self.to_deploy, "failed": self.failed, "summary": self.summary,
        }  # fmt: skip


@dataclass(frozen=True)
class Restore:
    action: str | None  # restore | cutover
    source: str | None
    snapshot_id: str | None
    point_in_time: str | None
    new_identifier: str | None
    endpoint: str | None
    summary: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "source": self.source, "snapshot_id": self.snapshot_id, "point_in_time": self.point_in_time,
            "new_identifier": self.new_identifier, "endpoint": self.endpoint, "summary": self.summary,
        }  # fmt: skip


@dataclass(frozen=True)
class MigrationLine:
    """One migration as the job's `status` step read the history."""

    name: str
    state: str
    edited: bool
    sqlstate: str | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "edited": self.edited, "sqlstate": self.sqlstate, "message": self.message}


@dataclass(frozen=True)
class LintFinding:
    migration: str
    line: int | None
    column: int | None
    rule: str
    severity: str
    message: str
    help: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration, "line": self.line, "column": self.column, "rule": self.rule,
            "severity": self.severity, "message": self.message, "help": self.help,
        }  # fmt: skip


@dataclass(frozen=True)
class AppliedMigration:
    """A migration the job applied (an `apply:NAME` step), or tried to."""

    migration: str
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str  # finished | failed | running

    def to_dict(self) -> dict[str, Any]:
        return {"migration": self.migration, "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at), "outcome": self.outcome}


@dataclass(frozen=True)
class Recovery:
    """The recover job a deploy started when its apply failed (the `recover` step)."""

    job_id: str
    at: datetime | None
    because: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "url": f"/v1/jobs/{self.job_id}", "report_url": f"/v1/jobs/{self.job_id}/report", "at": _iso(self.at), "because": self.because}


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    event: str
    step: str | None
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": _iso(self.at), "event": self.event, "step": self.step, "summary": self.summary}


@dataclass(frozen=True)
class IncidentReport:
    title: str
    generated_at: datetime
    job: Job
    migration: str | None
    failure: Failure | None
    decisions: list[Decision]
    rollback_sql: RollbackSql | None
    actions: list[Action]
    approvals: list[Approval]
    pending_approval: PendingApproval | None
    history: HistoryState | None
    restore: Restore | None
    timeline: list[TimelineEntry]
    # Empty for check and deploy jobs: the runbook's checklist is about undoing a migration.
    checklist: list[ChecklistItem] = field(default_factory=list)
    migrations: list[MigrationLine] | None = None  # None: the job did not read the history
    lint: list[LintFinding] | None = None  # None: the job did not lint
    applied: list[AppliedMigration] = field(default_factory=list)
    recovery: Recovery | None = None

    def to_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "title": self.title,
            "generated_at": _iso(self.generated_at),
            "job": {
                "id": job.id,
                "url": f"/v1/jobs/{job.id}",
                "kind": job.kind.value,
                "target": job.target,
                "state": job.state.value,
                "verdict": job.verdict.value if job.verdict else None,
                "reasons": list(job.reasons),
                "requested_by": job.requested_by,
                "parent_id": job.parent_id,
                "phase": _text_or_none(job.params.get("phase")),
                "commit": _text_or_none(job.params.get("commit")),
                "deployment_id": _text_or_none(job.params.get("deployment_id")),
                "created_at": _iso(job.created_at),
                "started_at": _iso(job.started_at),
                "finished_at": _iso(job.finished_at),
            },
            "migration": self.migration,
            "failure": self.failure.to_dict() if self.failure else None,
            "decisions": [d.to_dict() for d in self.decisions],
            "rollback_sql": self.rollback_sql.to_dict() if self.rollback_sql else None,
            "actions": [a.to_dict() for a in self.actions],
            "approvals": [a.to_dict() for a in self.approvals],
            "pending_approval": self.pending_approval.to_dict() if self.pending_approval else None,
            "history": self.history.to_dict() if self.history else None,
            "restore": self.restore.to_dict() if self.restore else None,
            "checklist": [item.to_dict() for item in self.checklist],
            "migrations": [m.to_dict() for m in self.migrations] if self.migrations is not None else None,
            "lint": [f.to_dict() for f in self.lint] if self.lint is not None else None,
            "applied": [a.to_dict() for a in self.applied],
            "recovery": self.recovery.to_dict() if self.recovery else None,
            "timeline": [entry.to_dict() for entry in self.timeline],
        }

    def to_markdown(self) -> str:
        if self.job.kind in GATE_KINDS:
            return _render_gate_markdown(self)
        return _render_markdown(self)


class Journal:
    """A job's events, with its step runs paired up and the approvals and notifications picked out."""

    def __init__(self, events: Sequence[JobEvent]) -> None:
        self.events = sorted(events, key=lambda e: e.id)
        self.runs = _step_runs(self.events)

    def finished(self, step: str) -> StepRun | None:
        """The last finished run of a step."""
        return next((run for run in reversed(self.runs) if run.step == step and run.outcome == "finished"), None)

    def last(self, step: str) -> StepRun | None:
        return next((run for run in reversed(self.runs) if run.step == step), None)

    def family(self, family: str) -> list[StepRun]:
        return [run for run in self.runs if run.family == family]

    def actions(self) -> list[StepRun]:
        return [
            run for run in self.runs
            if run.family not in _READING_STEPS and run.family not in _NOTIFICATION_STEPS and not _READING_PARTS & set(run.step.split(":")[1:])
        ]  # fmt: skip

    def approvals(self) -> list[Approval]:
        return [
            Approval(e.step, bool(e.data.get("approved")), _text_or_none(e.data.get("by")), e.at, _text_or_none(e.data.get("comment")))
            for e in self.events
            if e.kind == "approval"
        ]

    def notifications(self) -> list[Told]:
        """Each notification: what became of it when its delivery is journaled, else what the job did with it."""
        outcomes = [_delivery(event) for event in self.events if _is_delivery(event)]
        # A journaled outcome stands for one notification of its kind the job handed on.
        unmatched = Counter(told.kind for told in outcomes)
        told = list(outcomes)
        for run in self.runs:
            if run.family not in _NOTIFICATION_STEPS or run.outcome != "finished":
                continue
            handed = Told(run.at, _notification_kind(run), str(run.data.get("handoff") or "unknown"), run.data)
            if handed.outcome in ("enqueued", "unknown") and unmatched[handed.kind]:
                unmatched[handed.kind] -= 1
            else:
                told.append(handed)
        latest = datetime.max.replace(tzinfo=UTC)
        return sorted(told, key=lambda entry: entry.at or latest)


def _is_delivery(event: JobEvent) -> bool:
    """A note the notification task journaled (repository.record_notification_outcome)."""
    return event.kind == "note" and "notification" in event.data and "outcome" in event.data


def _delivery(event: JobEvent) -> Told:
    return Told(event.at, str(event.data["notification"]), str(event.data["outcome"]), dict(event.data))


def _notification_kind(run: StepRun) -> str:
    return str(run.data.get("notification") or (run.step.split(":")[1] if ":" in run.step else run.step))


def _step_runs(events: Iterable[JobEvent]) -> list[StepRun]:
    """Pair each step's start with its end; a step started again (a re-apply) is a run of its own."""
    runs: list[dict[str, Any]] = []
    open_runs: dict[str, dict[str, Any]] = {}
    for event in events:
        if not event.step or not event.kind.startswith("step_"):
            continue
        phase = event.kind.removeprefix("step_")
        if phase == "started":
            run = {"step": event.step, "started_at": event.at, "ended_at": None, "outcome": "running", "data": {}}
            runs.append(run)
            open_runs[event.step] = run
            continue
        run = open_runs.pop(event.step, None)
        if run is None:  # an end without a start (a resolution journaled after a worker died)
            run = {"step": event.step, "started_at": None, "ended_at": None, "outcome": "running", "data": {}}
            runs.append(run)
        run.update(ended_at=event.at, outcome=phase, data=dict(event.data))
    return [StepRun(**run) for run in runs]


def build_report(job: Job, events: Sequence[JobEvent], *, now: datetime | None = None) -> IncidentReport:
    """The report of any job, from the job and its journal (see the module docstring)."""
    journal = Journal(events)
    generated_at = now or datetime.now(UTC)
    builder = {
        JobKind.CHECK: _GateReport, JobKind.DEPLOY: _GateReport,
        JobKind.RECOVER: _RecoverReport, JobKind.ROLLBACK: _RollbackReport, JobKind.RESTORE: _RestoreReport,
    }[job.kind]  # fmt: skip
    return builder(job, journal, generated_at).build()


class _Report:
    """What every kind shares; each kind says what failed, what was decided and how the checklist reads."""

    def __init__(self, job: Job, journal: Journal, generated_at: datetime) -> None:
        self.job = job
        self.journal = journal
        self.generated_at = generated_at
        self.approvals = journal.approvals()

    def build(self) -> IncidentReport:
        migration = self.migration()
        return IncidentReport(
            title=self.title(migration),
            generated_at=self.generated_at,
            job=self.job,
            migration=migration,
            failure=self.failure(),
            decisions=self.decisions(),
            rollback_sql=self.rollback_sql(),
            actions=[Action(run.step, run.started_at, run.ended_at, run.outcome, _step_summary(run)) for run in self.journal.actions()],
            approvals=self.approvals,
            pending_approval=self.pending_approval(),
            history=self.history(),
            restore=self.restore(),
            timeline=[_timeline_entry(event) for event in self.journal.events],
            checklist=self.checklist(),
            migrations=self.migrations(),
            lint=self.lint(),
            applied=[
                AppliedMigration(run.step.partition(":")[2], run.started_at, run.ended_at, run.outcome)
                for run in self.journal.family("apply")
            ],
            recovery=self.recovery(),
        )

    def checklist(self) -> list[ChecklistItem]:
        return [
            self.migration_identified(),
            self.sql_reviewed(),
            self.rollback_tested(),
            self.backup_accessible(),
            self.team_notified(),
            self.rollback_executed(),
            self.history_updated(),
            self.functionality_verified(),
            self.incident_documented(),
        ]

    def migrations(self) -> list[MigrationLine] | None:
        status = self.journal.finished("status")
        if status is None:
            return None
        lines = []
        for migration in status.data.get("migrations") or []:
            failure = migration.get("failure") or {}
            lines.append(
                MigrationLine(str(migration.get("name")), str(migration.get("state")), bool(migration.get("edited")), failure.get("sqlstate"), failure.get("message"))
            )
        return lines

    def lint(self) -> list[LintFinding] | None:
        lint = self.journal.finished("lint")
        if lint is None:
            return None
        return [
            LintFinding(
                str(f.get("migration", "")), f.get("line"), f.get("column"), str(f.get("rule", "")),
                str(f.get("severity", "")), str(f.get("message", "")), str(f.get("help", "")),
            )  # fmt: skip
            for f in lint.data.get("findings") or []
        ]

    def recovery(self) -> Recovery | None:
        recover = self.journal.finished("recover")
        if recover is None or not _text_or_none(recover.data.get("job")):
            return None
        return Recovery(str(recover.data["job"]), recover.at, _text_or_none(recover.data.get("because")))

    def title(self, migration: str | None) -> str:
        subject = f" of {migration}" if migration else ""
        return f"Incident report: {self.job.kind.value}{subject} on {self.job.target}"

    # Each kind overrides what applies to it.
    def migration(self) -> str | None:
        return _text_or_none(self.job.params.get("migration"))

    def failure(self) -> Failure | None:
        return None

    def decisions(self) -> list[Decision]:
        return []

    def rollback_sql(self) -> RollbackSql | None:
        return None

    def restore(self) -> Restore | None:
        return None

    def pending_approval(self) -> PendingApproval | None:
        if self.job.state is not JobState.WAITING_APPROVAL:
            return None
        approval = self.job.facts.get("approval") or {}
        return PendingApproval(_text_or_none(approval.get("step")), [str(step) for step in approval.get("plan") or []])

    def history(self) -> HistoryState | None:
        recheck = self.journal.finished("recheck")
        if recheck is None:
            return None
        return _history_from_status(recheck, self.migration())

    # The checklist items every kind reads the same way.

    def team_notified(self) -> ChecklistItem:
        """Done only on a journaled delivery: enqueued is not told."""
        told = self.journal.notifications()
        if not told:
            return _item("team_notified", False, None, _NO_NOTIFICATION)
        delivered = [t for t in told if t.delivered]
        return _item("team_notified", bool(delivered), delivered[0].at if delivered else None, "; ".join(t.words(self.job.target) for t in told))

    def backup_accessible(self) -> ChecklistItem:
        snapshot = next((run for run in self.journal.runs if run.family == "snapshot" and run.outcome == "finished"), None)
        if snapshot is not None:
            found = _find_keys(snapshot.data, ("snapshot_id", "identifier"))
            return _item("backup_accessible", True, snapshot.at, f"snapshot {found or 'taken'} before acting ({snapshot.step})")
        parent = f"; a snapshot before apply, if the policy takes one, is in the journal of deploy job {self.job.parent_id}" if self.job.parent_id else ""
        return _item("backup_accessible", False, None, f"no backup recorded by this job: deploy-gate did not check the target's backups for it{parent}")

    def functionality_verified(self) -> ChecklistItem:
        """Never done by deploy-gate: re-reading the migration history is not checking the application."""
        return _item("functionality_verified", False, None, _NOT_CHECKED)

    def incident_documented(self) -> ChecklistItem:
        return _item("incident_documented", True, self.generated_at, f"this report, generated from {len(self.journal.events)} journal events")

    def reviewed_by_person(self, machine_read: str) -> ChecklistItem:
        """Done only when a person approved a plan that showed the SQL (the details under `facts.approval`).

        `machine_read` is what deploy-gate made of the SQL: evidence, never a review.
        """
        shown = self.job.facts.get("approval") or {}
        showed_sql = bool(shown.get("sql") or (shown.get("rollback") or {}).get("sql"))
        approved = [a for a in self.approvals if a.approved]
        read = f"deploy-gate read it: {machine_read}"
        reviewed = next((a for a in reversed(approved) if a.step == shown.get("step") and showed_sql), None)
        if reviewed is not None:
            return _item("sql_reviewed", True, reviewed.at, f"{reviewed.by} approved a plan that showed the rollback SQL ({reviewed.step}); {read}")
        if self.job.state is JobState.WAITING_APPROVAL:
            why = f"not reviewed by a person yet: the plan of {shown.get('step')} waits for approval"
        elif approved and approved[-1].step == shown.get("step"):
            why = f"not reviewed by a person: the plan {approved[-1].by} approved ({approved[-1].step}) showed no SQL"
        elif approved:
            why = f"not reviewed by a person: what {approved[-1].by} approved ({approved[-1].step}) is not on record with its SQL"
        else:
            why = "not reviewed by a person: no one approved a plan that showed the SQL"
        return _item("sql_reviewed", False, None, f"{why}; {read}")

    def approval_of(self, step: str) -> Approval | None:
        return next((a for a in reversed(self.approvals) if a.step == step), None)

    def waiting_note(self) -> str:
        if self.job.state is JobState.WAITING_APPROVAL:
            pending = self.pending_approval()
            return f"not yet: waiting for approval of {pending.step if pending else 'the plan'}"
        if self.job.state in (JobState.QUEUED, JobState.RUNNING):
            return f"not yet: the job is {self.job.state.value}"
        rejected = next((a for a in reversed(self.approvals) if not a.approved), None)
        if rejected is not None:
            return f"not done: the plan was rejected by {rejected.by} at {_when(rejected.at)}" + (f" ({rejected.comment})" if rejected.comment else "")
        return f"not done: the job ended {self.job.state.value}" + (f" with verdict {self.job.verdict.value}" if self.job.verdict else "")


class _GateReport(_Report):
    """A check or deploy: status, lint, then (a deploy) apply:NAME per migration, or recover after a failed apply."""

    def title(self, migration: str | None) -> str:
        job = self.job
        commit = _text_or_none(job.params.get("commit"))
        return f"{job.kind.value.capitalize()} report: {job.target}" + (f" at commit {commit}" if commit else "")

    def checklist(self) -> list[ChecklistItem]:
        return []


class _RecoverReport(_Report):
    """A failed migration: facts:N, decide:N, act:N:*, apply:*, wait_for_lock:N, recheck."""

    def rounds(self) -> list[tuple[StepRun, StepRun | None]]:
        """(facts:N, decide:N) for each round, in order."""
        rounds = []
        for facts in self.journal.family("facts"):
            if facts.outcome == "finished":
                rounds.append((facts, self.journal.finished(f"decide:{facts.last_part}")))
        return rounds

    def first_facts(self) -> dict[str, Any] | None:
        rounds = self.rounds()
        return rounds[0][0].data if rounds else None

    def last_facts(self) -> dict[str, Any] | None:
        rounds = self.rounds()
        return rounds[-1][0].data if rounds else None

    def migration(self) -> str | None:
        first = self.first_facts()
        return (first or {}).get("facts", {}).get("migration_name") or super().migration()

    def failure(self) -> Failure | None:
        first = self.first_facts()
        if first is None:
            return None
        facts = first.get("facts", {})
        row = first.get("history_row") or {}
        return Failure(
            migration=facts.get("migration_name"),
            sqlstate=facts.get("sqlstate"),
            message=facts.get("message"),
            error_class=facts.get("error_class"),
            attempts=facts.get("attempts"),
            started_at=_parse_time(row.get("started_at")),
        )

    def decisions(self) -> list[Decision]:
        decisions = []
        for facts, decided in self.rounds():
            if decided is None:
                continue
            data = decided.data
            decisions.append(
                Decision(
                    step=decided.step,
                    at=decided.at,
                    action=str(data.get("action")),
                    verdict=data.get("verdict"),
                    reasons=[str(r) for r in data.get("reasons", [])],
                    plan=[str(p) for p in data.get("plan", [])],
                    needs_approval=bool(data.get("needs_approval")),
                    facts=dict(facts.data.get("facts", {})),
                )
            )
        return decisions

    def rollback_sql(self) -> RollbackSql | None:
        last = self.last_facts()
        if last is None or not last.get("rollback"):
            return None
        plan, facts = last["rollback"], last.get("facts", {})
        return RollbackSql(
            source=str(plan.get("source", "none")),
            complete=bool(facts.get("rollback_complete", plan.get("complete"))),
            verified=facts.get("rollback_verified"),
            sql=str(plan.get("sql", "")),
            gaps=[str(g) for g in facts.get("rollback_gaps", [])],
            not_needed_because=_nothing_to_roll_back(facts),
        )

    def history(self) -> HistoryState | None:
        checked = super().history()
        if checked is not None:
            return checked
        changed = self.history_changes()
        if not changed:
            return None
        last = changed[-1]
        return HistoryState(False, last.step, last.at, None, None, [], [], f"not re-read after acting; the last change: {_step_summary(last)}")

    def history_changes(self) -> list[StepRun]:
        changing = ("mark_rolled_back", "mark_applied", "rollback_sql", "deploy", "deploy_pending")
        return [run for run in self.journal.family("act") if run.last_part in changing and run.outcome == "finished"]

    def acts(self, what: str) -> list[StepRun]:
        return [run for run in self.journal.family("act") if run.last_part == what]

    def no_failure_note(self) -> str | None:
        """Why there is nothing to identify, when the job found no failed migration."""
        if self.rounds():
            return None
        if self.journal.finished("recheck") or any(run.last_part == "deploy_pending" for run in self.journal.family("act")):
            return "the history holds no failed migration"
        return None

    def migration_identified(self) -> ChecklistItem:
        rounds = self.rounds()
        if not rounds:
            nothing = self.no_failure_note()
            if nothing:
                return _item("migration_identified", None, None, nothing)
            waits = [run for run in self.journal.family("wait_for_lock") if run.outcome == "finished"]
            if waits:
                return _item("migration_identified", False, None, f"not yet: waiting for Prisma's migration lock ({_step_summary(waits[-1])})")
            return _item("migration_identified", False, None, self.waiting_note())
        facts_run = rounds[0][0]
        failure = self.failure()
        started = f" (its run started {_when(failure.started_at)})" if failure.started_at else ""
        return _item(
            "migration_identified",
            True,
            facts_run.at,
            f"{failure.migration}: the failed row in _prisma_migrations{started}, "
            f"{failure.sqlstate or 'no SQLSTATE'} ({failure.error_class}): {failure.message or 'no message'}",
        )

    def sql_reviewed(self) -> ChecklistItem:
        rounds = self.rounds()
        if not rounds:
            return _item("sql_reviewed", None if self.no_failure_note() else False, None, self.no_failure_note() or self.waiting_note())
        facts_run = rounds[-1][0]
        facts = facts_run.data.get("facts", {})
        name = facts.get("migration_name")
        if not facts.get("in_bundle"):
            return _item("sql_reviewed", False, None, f"the bundle has no {name}/migration.sql with the checksum of the run that failed, so its SQL could not be reviewed")
        if not facts.get("parses"):
            return _item("sql_reviewed", False, None, f"{name} does not parse, so its statements could not be reviewed")
        analysis = facts_run.data.get("analysis") or {}
        words = [
            f"{name} parsed with PostgreSQL's parser ({analysis.get('statement_count', '?')} statements)",
            "transactional" if facts.get("transactional") else "not transactional: " + "; ".join(facts.get("not_transactional_because", [])[:2]),
            "idempotent" if facts.get("idempotent") else "not idempotent: " + "; ".join(facts.get("unguarded", [])[:2]),
            _rollback_words(facts),
        ]
        return self.reviewed_by_person("; ".join(w for w in words if w))

    def rollback_tested(self) -> ChecklistItem:
        rounds = self.rounds()
        decisions = self.decisions()
        if not rounds or not decisions:
            return _item("rollback_tested", None if self.no_failure_note() else False, None, self.no_failure_note() or self.waiting_note())
        needing = [d for d in decisions if d.action == "run_rollback_sql"]
        if not needing:
            last = decisions[-1]
            if last.action == "none" and not _undone(last.facts):
                return _item("rollback_tested", False, None, f"not tested: {_action_words(last)}")
            return _item("rollback_tested", None, None, f"no rollback SQL was needed: {_action_words(last)}")
        decision = needing[-1]
        facts_run = next(f for f, d in rounds if d is not None and d.step == decision.step)
        verified = decision.facts.get("rollback_verified")
        if verified is True:
            return _item("rollback_tested", True, facts_run.at, "the rollback SQL was verified on the shadow server: the catalog after migration and rollback matched the one before")
        if verified is False:
            problems = (facts_run.data.get("verification") or {}).get("errors") or []
            return _item("rollback_tested", False, None, "the rollback SQL did not pass on the shadow server" + (f": {'; '.join(map(str, problems[:3]))}" if problems else ""))
        approved = self.approval_of(f"act:{facts_run.last_part}")
        extra = f"; {approved.by} approved running it at {_when(approved.at)}" if approved is not None and approved.approved else ""
        return _item("rollback_tested", False, None, f"not tested: no shadow server is configured to verify the rollback SQL{extra}")

    def rollback_executed(self) -> ChecklistItem:
        runs = self.acts("rollback_sql")
        finished = [run for run in runs if run.outcome == "finished"]
        if finished:
            run = finished[-1]
            return _item("rollback_executed", True, run.at, f"{_step_summary(run)} ({run.step})")
        failed = [run for run in runs if run.outcome == "failed"]
        if failed:
            return _item("rollback_executed", False, None, f"the rollback SQL failed and was undone: {_step_summary(failed[-1])}")
        decisions = self.decisions()
        if not decisions:
            return _item("rollback_executed", None if self.no_failure_note() else False, None, self.no_failure_note() or self.waiting_note())
        if any(d.action == "run_rollback_sql" for d in decisions):
            return _item("rollback_executed", False, None, self.waiting_note())
        last = decisions[-1]
        if last.action == "none":
            return _item("rollback_executed", False, None, "no rollback SQL was run: the decision was to stop and leave a plan to a person")
        return _item("rollback_executed", None, None, f"no rollback SQL was needed: {_action_words(last)}")

    def history_updated(self) -> ChecklistItem:
        changes = self.history_changes()
        if changes:
            words = "; ".join(f"{_history_words(run)} ({run.step}, {_when(run.at)})" for run in changes)
            return _item("history_updated", True, changes[-1].at, words)
        nothing = self.no_failure_note()
        if nothing:
            return _item("history_updated", None, None, f"{nothing}, and nothing was applied")
        decisions = self.decisions()
        if decisions and decisions[-1].action == "none":
            return _item("history_updated", False, None, "the history was not changed: the decision was to stop and leave a plan to a person")
        return _item("history_updated", False, None, self.waiting_note())


class _RollbackReport(_Report):
    """An applied migration rolled back: plan, verify, (approval of) execute, recheck."""

    def plan(self) -> StepRun | None:
        return self.journal.finished("plan")

    def verify(self) -> StepRun | None:
        return self.journal.finished("verify")

    def decisions(self) -> list[Decision]:
        plan = self.plan()
        if plan is None:
            return []
        name = self.migration()
        refused = [str(r) for r in plan.data.get("refused") or []]
        verify = self.verify()
        facts: dict[str, Any] = {
            "migration_name": name,
            "rollback_source": plan.data.get("source"),
            "refused": refused,
            "rollback_gaps": [str(r) for r in plan.data.get("reasons") or []],
            "rollback_verified": verify.data.get("verified") if verify else None,
            "verification_problems": [str(p) for p in (verify.data.get("problems") or [])] if verify else [],
        }
        if refused:
            return [Decision(plan.step, plan.at, "none", "blocked", refused, [], False, facts)]
        reasons = [f"rollback SQL of {name} from its {plan.data.get('source')}"]
        if verify is not None:
            verified = verify.data.get("verified")
            reasons.append(
                "verified on the shadow server" if verified else "did not pass on the shadow server" if verified is False
                else "not verified: the target has no shadow server"
            )  # fmt: skip
        approval = self.job.facts.get("approval") or {}
        steps = [str(s) for s in approval.get("plan") or []]
        return [Decision(verify.step if verify else plan.step, (verify or plan).at, "run_rollback_sql", None, reasons, steps, bool(approval), facts)]

    def rollback_sql(self) -> RollbackSql | None:
        plan = self.plan()
        if plan is None or plan.data.get("source") in (None, "none"):
            return None
        verify = self.verify()
        gaps = [str(r) for r in plan.data.get("reasons") or []]
        return RollbackSql(
            source=str(plan.data["source"]),
            complete=not plan.data.get("refused"),
            verified=verify.data.get("verified") if verify else None,
            sql=str(plan.data.get("sql", "")),
            gaps=gaps,
        )

    def migration_identified(self) -> ChecklistItem:
        plan = self.plan()
        name = self.migration()
        if plan is None:
            return _item("migration_identified", False, None, self.waiting_note())
        if plan.data.get("source") in (None, "none"):
            return _item("migration_identified", False, None, "not settled: the rollback was refused: " + "; ".join(plan.data.get("refused") or []))
        return _item("migration_identified", True, plan.at, f"{name}, named by {self.job.requested_by}: its applied row in _prisma_migrations matches the bundle's file")

    def sql_reviewed(self) -> ChecklistItem:
        plan = self.plan()
        if plan is None or plan.data.get("source") in (None, "none"):
            return _item("sql_reviewed", False, None, self.waiting_note() if plan is None else "there was no file to review")
        refused = plan.data.get("refused") or []
        words = [f"rollback SQL from its {_source_words(plan.data['source'])}, parsed and checked against the effects of {self.migration()}"]
        words.append("refused: " + "; ".join(refused) if refused else "complete, and runs in one transaction")
        return self.reviewed_by_person("; ".join(words))

    def rollback_tested(self) -> ChecklistItem:
        plan = self.plan()
        if plan is not None and plan.data.get("refused"):
            return _item("rollback_tested", None, None, "nothing to test: the rollback was refused before it could be tested")
        verify = self.verify()
        if verify is None:
            return _item("rollback_tested", False, None, self.waiting_note())
        verified = verify.data.get("verified")
        if verified is True:
            return _item("rollback_tested", True, verify.at, "verified on the shadow server: the catalog after migration and rollback matched the one before")
        if verified is False:
            return _item("rollback_tested", False, None, "did not pass on the shadow server: " + "; ".join(map(str, (verify.data.get("problems") or [])[:3])))
        return _item("rollback_tested", False, None, "not tested: the target has no shadow server to verify the rollback SQL on")

    def rollback_executed(self) -> ChecklistItem:
        run = self.journal.last("execute")
        if run is not None and run.outcome == "finished":
            return _item("rollback_executed", True, run.at, _step_summary(run))
        if run is not None and run.outcome == "failed":
            return _item("rollback_executed", False, None, f"the rollback SQL failed and was undone: {_step_summary(run)}")
        plan = self.plan()
        if plan is not None and plan.data.get("refused"):
            return _item("rollback_executed", False, None, "not run: the rollback was refused: " + "; ".join(plan.data["refused"]))
        verify = self.verify()
        if verify is not None and verify.data.get("verified") is False:
            return _item("rollback_executed", False, None, "not run: the rollback SQL did not pass on the shadow server")
        return _item("rollback_executed", False, None, self.waiting_note())

    def history_updated(self) -> ChecklistItem:
        run = self.journal.finished("execute")
        if run is None:
            return _item("history_updated", False, None, "the history was not changed: " + self.rollback_executed().evidence)
        rows = run.data.get("rolled_back_rows") or []
        words = (
            f"rolled_back_at set on {len(rows)} finished row(s) of {self.migration()} in the rollback's own transaction"
            if rows else str(run.data.get("note") or "already recorded as rolled back")
        )  # fmt: skip
        return _item("history_updated", True, run.at, words)


class _RestoreReport(_Report):
    """A restore or cut-over: steps plan, snapshot, start, poll:N, endpoint, cutover:* (handled generically)."""

    def restore(self) -> Restore:
        plan = self.journal.finished("plan")
        sources: list[Mapping[str, Any]] = [self.job.facts.get("restore") or {}]
        if plan is not None:
            sources += [plan.data, plan.data.get("plan") or {}]
        endpoint = self.journal.finished("endpoint")
        if endpoint is not None:
            sources.append(endpoint.data)
        sources.append(self.job.params)

        def pick(*keys: str) -> str | None:
            return next((_text_or_none(source.get(key)) for source in sources for key in keys if _text_or_none(source.get(key))), None)

        host, port = pick("endpoint"), pick("port")
        return Restore(
            action=pick("action") or "restore",
            source=pick("source"),
            snapshot_id=pick("snapshot_id"),
            point_in_time=pick("point_in_time", "restore_time"),
            new_identifier=pick("new_identifier"),
            endpoint=f"{host}:{port}" if host and port and not host.endswith(f":{port}") else host,
            summary=pick("summary"),
        )

    def title(self, migration: str | None) -> str:
        restore = self.restore()
        what = "cut-over" if restore.action == "cutover" else "restore"
        onto = f" to {restore.new_identifier}" if restore.new_identifier else ""
        return f"Incident report: {what} of {self.job.target}{onto}"

    def migration_identified(self) -> ChecklistItem:
        return _item("migration_identified", None, None, "a restore brings back a whole database from a backup, not one migration")

    def sql_reviewed(self) -> ChecklistItem:
        return _item("sql_reviewed", None, None, "a restore runs no migration or rollback SQL")

    def rollback_tested(self) -> ChecklistItem:
        return _item("rollback_tested", None, None, "a restore runs no rollback SQL; it restores to a new instance and leaves the source as it is")

    def backup_accessible(self) -> ChecklistItem:
        restore = self.restore()
        if restore.action == "cutover":
            return _item("backup_accessible", None, None, "a cut-over swaps in an instance already restored; the backup it came from is in its restore job's report")
        plan = self.journal.finished("plan")
        if plan is not None:
            source = plan.data.get("source") or "the source"
            if plan.data.get("snapshot_id"):
                backup = f"snapshot {plan.data['snapshot_id']} of {source} exists and is available"
            elif plan.data.get("restore_time"):
                backup = f"{plan.data['restore_time']} is inside the restorable window of {source}"
            else:
                latest = plan.data.get("latest_restorable_time")
                backup = f"{source} has a latest restorable time" + (f" ({latest} when planned)" if latest else "")
            return _item("backup_accessible", True, plan.at, f"{backup}: checked with AWS when the restore was planned")
        asked = (
            f"snapshot {restore.snapshot_id}" if restore.snapshot_id else f"point in time {restore.point_in_time}" if restore.point_in_time
            else "the latest restorable time" if self.job.params.get("use_latest_restorable_time") else "no snapshot or point in time"
        )  # fmt: skip
        if self.job.state in (JobState.QUEUED, JobState.RUNNING):
            return _item("backup_accessible", False, None, f"{asked} was asked for; not yet checked with AWS")
        why = f": {self.job.reasons[0]}" if self.job.reasons else ""
        return _item("backup_accessible", False, None, f"{asked} was asked for, but the restore could not be planned{why}")

    def rollback_executed(self) -> ChecklistItem:
        started = self.journal.finished("start")
        also = f"; the restore to a new instance started at {_when(started.at)}" if started else ""
        return _item("rollback_executed", None, None, f"a restore brings back a backup instead of running rollback SQL{also}")

    def history_updated(self) -> ChecklistItem:
        return _item("history_updated", None, None, "a restore does not edit the migration history: the restored copy holds the history as it was in the backup")

    def functionality_verified(self) -> ChecklistItem:
        available = self.journal.finished("endpoint") or self.journal.finished("cutover:done")
        if available is None:
            return super().functionality_verified()
        where = self.restore().endpoint or available.data.get("endpoint")
        return _item("functionality_verified", False, None, f"the instance is available{f' at {where}' if where else ''} ({_when(available.at)}); {_NOT_CHECKED}")


def _item(item_id: str, done: bool | None, at: datetime | None, evidence: str) -> ChecklistItem:
    return ChecklistItem(item_id, dict(CHECKLIST)[item_id], done, at if done else None, evidence)


def _undone(facts: Mapping[str, Any]) -> str | None:
    """Why nothing the failed run did survived, when its facts say so (in decide's words); else None.

    The one fact that the effects line, the rollback section and the checklist read, so that a
    report never says "partial" of a run that PostgreSQL undid whole.
    """
    name = facts.get("migration_name") or "the migration"
    if facts.get("sqlstate") == SYNTAX_ERROR:
        return f"PostgreSQL rejected {name} before running any of it (a syntax error)"
    if facts.get("transactional") and facts.get("sqlstate"):
        return f"{name} has no transaction control, so PostgreSQL undid the whole file when it failed"
    return None


def _nothing_to_roll_back(facts: Mapping[str, Any]) -> str | None:
    undone = _undone(facts)
    return f"nothing to roll back: {undone}" if undone else None


def _effects_words(facts: Mapping[str, Any], *, brief: bool = False) -> str:
    """What the effect probe found, and whether it is this run's work (`brief`: for the timeline)."""
    effects = facts.get("effects")
    undone = _undone(facts)
    if undone is None:
        return str(effects) + ("" if brief or facts.get("fully_probed", True) else " (not all of them can be checked in the catalog)")
    found = f"; the objects found (probe: {effects}) were there before it ran and are not its effects" if effects in ("partial", "all") else ""
    return "none left by this run" + ("" if brief else f": {undone}") + found


def _rollback_words(facts: Mapping[str, Any]) -> str:
    source = facts.get("rollback_source", "none")
    nothing = _nothing_to_roll_back(facts)
    if nothing:
        return nothing
    if source == "none":
        return "no rollback SQL (no ROLLBACK SQL section, and no inverse could be derived)"
    complete = "complete" if facts.get("rollback_complete") else "incomplete: " + "; ".join(facts.get("rollback_gaps", [])[:2])
    return f"rollback SQL from its {_source_words(source)}, {complete}"


def _source_words(source: Any) -> str:
    return {"section": "ROLLBACK SQL section", "derived": "derived inverse"}.get(str(source), str(source))


def _action_words(decision: Decision) -> str:
    facts = decision.facts
    name = facts.get("migration_name", "the migration")
    undone = _undone(facts)
    left_nothing = undone or f"the failure of {name} left no effects"
    why_again = left_nothing if undone or facts.get("effects") == "none" else f"every statement of {name} is guarded"
    return {
        "mark_applied": f"every effect of {name} was present" + (f" (there before it ran: {undone})" if undone else "") + ", so it was recorded as applied instead",
        "retry": f"{why_again}; {name} was marked rolled back and applied again",
        "mark_rolled_back": f"{left_nothing}; recording {name} as rolled back was enough",
        "none": "the decision was to stop and leave a plan to a person",
        "wait_for_lock": "the job waited for Prisma's migration lock",
    }.get(decision.action, f"the decision was {decision.action}")


def _history_words(run: StepRun) -> str:
    """What a step that writes the history wrote to it."""
    if run.last_part == "rollback_sql":
        rows = run.data.get("rolled_back_rows") or []
        return f"{len(rows)} failed history row(s) marked rolled back, in the rollback SQL's own transaction" if rows else "already recorded as rolled back"
    if run.last_part in ("deploy", "deploy_pending"):
        applied = run.data.get("applied") or []
        failure = run.data.get("failure") or {}
        words = ([f"finished rows for {', '.join(applied)}"] if applied else []) + ([f"a failed row for {failure.get('migration_name')}"] if failure else [])
        return "; ".join(words) or "nothing pending, no history row written"
    return _step_summary(run)


def _history_from_status(run: StepRun, migration: str | None) -> HistoryState:
    status = run.data
    state = next((m.get("state") for m in status.get("migrations", []) if m.get("name") == migration), None) if migration else None
    to_deploy = [str(n) for n in status.get("to_deploy") or []]
    failed = [str(n) for n in (status.get("summary") or {}).get("failed") or []]
    words = []
    if migration:
        words.append(f"{migration} is {(state or 'not in the history').replace('_', ' ')}")
    words.append("no failed migration" if not failed else f"failed: {', '.join(failed)}")
    words.append(f"to deploy: {', '.join(to_deploy)}" if to_deploy else "nothing to deploy")
    return HistoryState(True, run.step, run.at, state, status.get("up_to_date"), to_deploy, failed, "; ".join(words))


def _step_summary(run: StepRun) -> str:
    """What a step did, in a few plain words, from what it journaled."""
    data = run.data
    if run.outcome == "running":
        return "started, not finished"
    if run.outcome == "failed":
        return str(data.get("error") or data.get("resolution") or "failed") + (f" ({data['code']})" if data.get("code") else "")
    family, last = run.family, run.last_part
    if family == "facts":
        facts = data.get("facts", {})
        return f"{facts.get('migration_name')}: {facts.get('sqlstate') or 'no SQLSTATE'} ({facts.get('error_class')}), effects {_effects_words(facts, brief=True)}"
    if family == "decide":
        return f"decided: {data.get('action')}"
    if family == "wait_for_lock":
        holder = data.get("lock_holder") or {}
        return f"Prisma's migration lock held by pid {holder.get('pid')} ({holder.get('application_name') or 'no application name'})"
    if family in ("recheck", "status"):
        pending = ", ".join(data.get("to_deploy") or [])
        failed = ", ".join((data.get("summary") or {}).get("failed") or [])
        read = "history re-read: " if family == "recheck" else "history read: "
        return read + (f"failed: {failed}" if failed else f"to deploy: {pending}" if pending else "up to date")
    if family == "lint":
        findings = data.get("findings") or []
        errors = sum(1 for f in findings if f.get("severity") == "error")
        return f"{len(findings)} lint finding(s), {errors} at error level" if findings else "no lint findings"
    if family == "recover" and data.get("job"):
        return f"started recover job {data['job']}" + (f": {data['because']}" if data.get("because") else "")
    if family == "apply":
        return f"applied {run.step.partition(':')[2]}" + (f" ({data['resolution']})" if data.get("resolution") else "")
    if family == "wait_for_blockers" and data.get("outcome"):
        return describe_wait(data)
    if family == "wait_for_catalog" and data.get("message"):
        return f"{data['message']}; next look in {data.get('next_look_in_seconds')} s"
    if family == "postcondition":
        problems = data.get("problems") or []
        basis = "the shadow's replay" if data.get("basis") == "replay" else "the shapes their SQL states"
        settled = ", ".join(data.get("migrations") or [])
        return f"{settled}: not in place: {'; '.join(problems[:3])}" if problems else f"{settled}: every effect in place, compared with {basis}"
    if family == "verify":
        verified = data.get("verified")
        return "verified on the shadow server" if verified else "did not pass on the shadow server" if verified is False else "not verified: no shadow server"
    if family == "plan" and "refused" in data:
        return "refused: " + "; ".join(data["refused"]) if data["refused"] else f"rollback SQL from its {data.get('source')}"
    if family in _NOTIFICATION_STEPS:
        return Told(run.at, _notification_kind(run), str(data.get("handoff") or "unknown"), dict(data)).words("the target")
    if last == "mark_rolled_back":
        rows = data.get("marked_rolled_back") or []
        return f"marked {len(rows)} failed history row(s) rolled back" if rows else "nothing left to mark rolled back"
    if last == "mark_applied":
        return "recorded as applied (a finished history row)" if data.get("marked_applied") else "already recorded as applied"
    if last == "drop_invalid_indexes":
        return f"dropped INVALID indexes: {', '.join(data.get('dropped') or []) or 'none'}"
    if last in ("rollback_sql", "execute") and ("rolled_back_rows" in data or "probe" in data):
        rows = data.get("rolled_back_rows") or []
        if not rows:
            return str(data.get("note") or "nothing left to roll back")
        left = (data.get("probe") or {}).get("state")
        return f"rollback SQL ran in one transaction under Prisma's lock; effects left afterwards: {left}; {len(rows)} history row(s) marked rolled back"
    if last in ("deploy", "deploy_pending") and "succeeded" in data:
        applied = ", ".join(data.get("applied") or [])
        if data.get("succeeded"):
            return f"applied: {applied}" if applied else "nothing pending to apply"
        failure = data.get("failure") or {}
        reason = f"{failure.get('migration_name')} failed ({failure.get('sqlstate') or 'no SQLSTATE'}: {failure.get('message')})" if failure else data.get("error", "failed")
        return (f"applied: {applied}; " if applied else "") + str(reason)
    return _generic_summary(data)


def _generic_summary(data: Mapping[str, Any]) -> str:
    """A step this module does not know: its plain values, briefly."""
    if isinstance(data.get("summary"), str):
        return data["summary"]
    parts = [f"{key}: {value}" for key, value in data.items() if isinstance(value, str | int | float) and value != ""]
    text = ", ".join(parts[:6])
    return text[:300] if text else "done"


def _timeline_entry(event: JobEvent) -> TimelineEntry:
    data = event.data
    if event.kind == "transition":
        if event.from_state is None:
            summary = f"created: {data.get('kind', '')} job on {data.get('target', '')}, queued".replace(" job on ,", ",")
        else:
            summary = f"{event.from_state} → {event.to_state}"
            if data.get("verdict"):
                summary += f", verdict {data['verdict']}"
            for key, words in (("approved_by", "approved by"), ("rejected_by", "rejected by"), ("decided_by", "verdict from job"), ("by", "by")):
                if data.get(key):
                    summary += f", {words} {data[key]}"
    elif event.kind == "approval":
        summary = f"{'approved' if data.get('approved') else 'rejected'} by {data.get('by')}" + (f": {data['comment']}" if data.get("comment") else "")
    elif event.kind == "step_started":
        summary = "started"
    elif event.kind in ("step_finished", "step_failed"):
        run = StepRun(event.step or "", None, event.at, event.kind.removeprefix("step_"), dict(data))
        summary = _step_summary(run)
    elif _is_delivery(event):
        summary = _delivery(event).words("the target")
    else:
        summary = str(data.get("message") or data.get("notification") or _generic_summary(data))
    return TimelineEntry(event.id, event.at, event.kind, event.step, summary)


def _summary_lines(report: IncidentReport) -> list[str]:
    """The title and the table about the job, which every report starts with."""
    job = report.job
    lines = [f"# {_inline(report.title)}", ""]
    rows = [
        ("Job", f"`{job.id}` ({job.kind.value})"),
        ("Target", _inline(job.target)),
        ("State", job.state.value),
        ("Verdict", job.verdict.value if job.verdict else "none yet"),
        ("Requested by", _inline(job.requested_by)),
        *([] if job.kind in GATE_KINDS else [("Migration", f"`{report.migration}`" if report.migration else "none")]),
        *([("Phase", _inline(job.params["phase"]))] if job.kind in GATE_KINDS and _text_or_none(job.params.get("phase")) else []),
        ("Created", _when(job.created_at)),
        ("Started", _when(job.started_at)),
        ("Finished", _when(job.finished_at)),
    ]
    for key, label in (("commit", "Commit"), ("deployment_id", "Deployment")):
        if _text_or_none(job.params.get(key)):
            rows.append((label, f"`{_inline(job.params[key])}`"))
    if job.parent_id:
        rows.append(("Started by job", f"`{job.parent_id}`"))
    lines += ["| | |", "| --- | --- |"] + [f"| {label} | {_cell(value)} |" for label, value in rows] + [""]
    if job.reasons:
        lines += ["Outcome:", ""] + [f"- {_inline(reason)}" for reason in job.reasons] + [""]
    return lines


def _timeline_lines(report: IncidentReport) -> list[str]:
    lines = ["## Timeline", "", "| Time | Event | Step | What |", "| --- | --- | --- | --- |"]
    lines += [f"| {_when(e.at)} | {e.event} | {f'`{e.step}`' if e.step else ''} | {_cell(e.summary)} |" for e in report.timeline]
    return lines + ["", f"Generated by deploy-gate at {_when(report.generated_at)} from the job's journal.", ""]


def _render_gate_markdown(report: IncidentReport) -> str:
    """A check or deploy job: the verdict and what it rested on, what was applied, who took over."""
    job = report.job
    lines = _summary_lines(report)

    lines += ["## Migrations", ""]
    if report.migrations is None:
        lines.append("Not read: the job has not read the target's history." if job.state not in TERMINAL else "Not read: the job ended before it read the target's history.")
    elif not report.migrations:
        lines.append("None: the bundle and the history hold no migration.")
    else:
        lines += ["| Migration | State | Details |", "| --- | --- | --- |"]
        for m in report.migrations:
            details = [f"{m.sqlstate or 'no SQLSTATE'}: {m.message or 'no logs'}"] if m.state == "failed" else []
            details += ["edited after it was applied"] if m.edited else []
            lines.append(f"| `{_cell(m.name)}` | {m.state.replace('_', ' ')} | {_cell('; '.join(details))} |")
    lines.append("")

    lines += ["## Lint findings", ""]
    if report.lint is None:
        lines.append("Not linted.")
    elif not report.lint:
        lines.append("None.")
    else:
        lines += ["| Migration | Line | Rule | Severity | Message |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{_cell(f.migration)}` | {f.line if f.line is not None else ''} | `{_cell(f.rule)}` | {_cell(f.severity)} | {_cell(f.message)} |" for f in report.lint]
    lines.append("")

    lines += ["## Applied", ""]
    if report.applied:
        for a in report.applied:
            outcome = {"finished": "applied", "failed": "failed", "running": "started, not finished"}.get(a.outcome, a.outcome)
            lines.append(f"- `{_inline(a.migration)}`: {outcome} ({_when(a.finished_at or a.started_at)})")
    else:
        lines.append("None: a check applies nothing." if job.kind is JobKind.CHECK or not job.params.get("apply", True) else "None.")
    lines.append("")

    if report.recovery is not None:
        r = report.recovery
        because = f": {_inline(r.because)}" if r.because else ""
        lines += ["## Recovery", "", f"At {_when(r.at)}, recover job `{r.job_id}` was started{because}. "
                  f"Its verdict is this job's; its incident report: {r.to_dict()['report_url']}.", ""]  # fmt: skip

    return "\n".join(lines + _timeline_lines(report))


def _render_markdown(report: IncidentReport) -> str:
    job = report.job
    lines = _summary_lines(report)

    lines += ["## What failed", ""]
    if report.failure:
        f = report.failure
        lines += [
            f"- Migration: `{f.migration}`",
            f"- SQLSTATE: `{f.sqlstate or 'none'}` ({f.error_class or 'unknown'} error)",
            f"- Message: {_inline(f.message or 'none')}",
            f"- Failed runs so far: {f.attempts if f.attempts is not None else 'unknown'}" + (f"; the run started {_when(f.started_at)}" if f.started_at else ""),
        ]
    elif job.kind is JobKind.ROLLBACK:
        lines.append(f"`{report.migration}` was applied successfully; {_inline(job.requested_by)} asked for it to be rolled back.")
    elif job.kind is JobKind.RESTORE:
        lines.append("A restore of the database from a backup was asked for (runbook Procedure C); no single migration is concerned.")
    else:
        identified = next(item for item in report.checklist if item.id == "migration_identified")
        why = identified.evidence[0].upper() + identified.evidence[1:]
        lines.append(f"{why}." if identified.done is None else f"Not known yet: {identified.evidence.removeprefix('not yet: ')}.")
    lines.append("")

    if report.restore is not None:
        r = report.restore
        lines += ["## Restore", ""]
        for label, value in (("Action", r.action), ("Source", r.source), ("Snapshot", r.snapshot_id), ("Point in time", r.point_in_time),
                             ("New instance", r.new_identifier), ("Endpoint", r.endpoint), ("Plan", r.summary)):  # fmt: skip
            if value:
                lines.append(f"- {label}: {_inline(value)}")
        lines.append("")

    if report.decisions:
        lines += ["## Facts the decision rested on", ""]
        for decision in report.decisions:
            if len(report.decisions) > 1:
                lines += [f"### {decision.step}", ""]
            lines += [f"- {_inline(fact)}" for fact in _fact_lines(decision.facts)] + [""]
        lines += ["## Decision", ""]
        for decision in report.decisions:
            verdict = f", verdict {decision.verdict}" if decision.verdict else ""
            approval = ", needs a person's approval" if decision.needs_approval else ""
            lines += [f"**{decision.action}** ({decision.step}, {_when(decision.at)}{verdict}{approval})", ""]
            lines += [f"- {_inline(reason)}" for reason in decision.reasons]
            if decision.plan:
                lines += ["", "Plan:", ""] + [f"{n}. {_inline(step)}" for n, step in enumerate(decision.plan, 1)]
            lines.append("")

    if report.rollback_sql is not None and report.rollback_sql.not_needed_because:
        r = report.rollback_sql
        withheld = f" Its {_source_words(r.source)} is not shown: anything it would drop or change now was there before the migration ran." if r.sql.strip() else ""
        lines += ["## Rollback SQL", "", f"{_sentence(r.not_needed_because)}.{withheld}", ""]
    elif report.rollback_sql is not None and report.rollback_sql.sql.strip():
        r = report.rollback_sql
        verified = {True: "verified on the shadow server", False: "failed verification", None: "not verified"}[r.verified]
        lines += ["## Rollback SQL", "", f"From its {_source_words(r.source)}; "
                  f"{'complete' if r.complete else 'incomplete'}; {verified}.", ""]  # fmt: skip
        lines += _fenced(r.sql, "sql") + [""]

    if report.pending_approval is not None:
        p = report.pending_approval
        lines += ["## Waiting for approval", "", f"Step `{p.step}` waits for a person to approve:", ""]
        lines += [f"{n}. {_inline(step)}" for n, step in enumerate(p.plan, 1)] + [""]

    lines += ["## Actions taken", ""]
    if report.actions:
        lines += ["| Step | Started | Ended | Outcome | What |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{a.step}` | {_when(a.started_at)} | {_when(a.finished_at)} | {a.outcome} | {_cell(a.summary)} |" for a in report.actions]
    else:
        lines.append("None: nothing was changed.")
    lines.append("")

    lines += ["## Approvals", ""]
    if report.approvals:
        for a in report.approvals:
            comment = f": {_inline(a.comment)}" if a.comment else ""
            lines.append(f"- {_when(a.at)}: {'approved' if a.approved else 'rejected'} by {_inline(a.by or 'unknown')} (`{a.step}`){comment}")
    else:
        lines.append("None recorded.")
    lines.append("")

    lines += ["## Final history state", ""]
    if report.history is None:
        lines.append("Not read after acting." if report.actions else "Unchanged: the job changed nothing.")
    else:
        h = report.history
        lines.append(f"{_inline(h.summary[0].upper() + h.summary[1:])} (`{h.step}`, {_when(h.at)}).")
    lines.append("")

    lines += ["## Migration Rollback Checklist", ""]
    for item in report.checklist:
        if item.done is None:
            lines.append(f"- [ ] ~~{item.item}~~ (not applicable): {_inline(item.evidence)}")
        else:
            when = f" ({_when(item.at)})" if item.at else ""
            lines.append(f"- [{'x' if item.done else ' '}] {item.item}{when}: {_inline(item.evidence)}")
    lines.append("")

    return "\n".join(lines + _timeline_lines(report))


def _fact_lines(facts: Mapping[str, Any]) -> list[str]:
    """A decision's facts in plain words (the JSON carries them all)."""
    if "refused" in facts:  # a rollback job's plan
        lines = [f"Rollback SQL from: {facts.get('rollback_source') or 'none'}"]
        verified = facts.get("rollback_verified")
        lines.append("Verified on the shadow server: " + ("yes" if verified else "no" if verified is False else "not verified (no shadow server)"))
        lines += [f"Refused: {reason}" for reason in facts.get("refused") or []]
        return lines
    if not facts:
        return ["none recorded"]
    yes = lambda value: "yes" if value else "no"  # noqa: E731
    verified = facts.get("rollback_verified")
    lines = [
        f"Error: {facts.get('sqlstate') or 'no SQLSTATE'} ({facts.get('error_class')})",
        f"The bundle's file matches the failed run's checksum: {yes(facts.get('in_bundle'))}; it parses: {yes(facts.get('parses'))}",
        f"Effects found in the database: {_effects_words(facts)}",
        f"Transactional (PostgreSQL undoes all of it on failure): {yes(facts.get('transactional'))}"
        + (f" ({'; '.join(facts.get('not_transactional_because') or [])})" if facts.get("not_transactional_because") else ""),
        f"Idempotent (every statement guarded): {yes(facts.get('idempotent'))}" + (f" ({'; '.join((facts.get('unguarded') or [])[:3])})" if facts.get("unguarded") else ""),
        f"Rollback SQL: {_nothing_to_roll_back(facts)}"
        + (f"; its {_source_words(facts.get('rollback_source'))} is not to be run" if facts.get("rollback_source") not in (None, "none") else "")
        if _nothing_to_roll_back(facts)
        else f"Rollback SQL: {facts.get('rollback_source')}, {'complete' if facts.get('rollback_complete') else 'incomplete'}, "
        + ("verified on the shadow server" if verified else "failed verification" if verified is False else "not verified"),
        f"Failed runs: {facts.get('attempts')}; automatic retries allowed: {facts.get('max_automatic_retries')}; left: {facts.get('retries_left')}",
        f"The policy allows automatic rollback: {yes(facts.get('automatic_rollback'))}",
    ]
    if facts.get("invalid_indexes"):
        lines.append(f"INVALID indexes: {', '.join(facts['invalid_indexes'])}")
    if facts.get("lock_holder"):
        lines.append(f"Prisma's lock held by: {facts['lock_holder']}")
    return lines


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _find_keys(data: Any, keys: Sequence[str], depth: int = 2) -> str | None:
    """The first non-empty value of one of `keys` in a step's data, looking a little way into it."""
    if not isinstance(data, Mapping):
        return None
    for key in keys:
        if _text_or_none(data.get(key)):
            return str(data[key])
    if depth > 0:
        for value in data.values():
            found = _find_keys(value, keys, depth - 1)
            if found:
                return found
    return None


def _sentence(text: str) -> str:
    return _inline(text[:1].upper() + text[1:])


def _inline(text: Any) -> str:
    """One line of Markdown: newlines folded."""
    return " ".join(str(text).split())


def _cell(text: Any) -> str:
    return _inline(text).replace("|", "\\|")


def _fenced(text: str, language: str) -> list[str]:
    """A code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]
