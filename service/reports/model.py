"""What a job report says, as data: `IncidentReport` and its parts, with `to_dict` (the API's JSON, openapi.yaml).

service.reports.build makes one from a job's journal; service.reports.render writes it as Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.jobs.states import JobKind
from service.reports.journal import Approval
from service.reports.render import render_markdown
from service.reports.steps import FailureFacts, text_or_none
from service.store.repository import Job

# Jobs that gate a deploy: their report has no checklist (nothing was rolled back).
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


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    item: str
    done: bool | None  # None: not applicable to this job
    at: datetime | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "item": self.item, "done": self.done, "at": iso(self.at), "evidence": self.evidence}


@dataclass(frozen=True)
class Failure:
    migration: str | None
    sqlstate: str | None
    message: str | None
    error_class: str | None
    attempts: int | None
    started_at: datetime | None  # when the run that failed started (its history row)

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration, "sqlstate": self.sqlstate, "message": self.message,
            "error_class": self.error_class, "attempts": self.attempts, "started_at": iso(self.started_at),
        }  # fmt: skip


@dataclass(frozen=True)
class RollbackJobFacts:
    """What a rollback job's decision rested on: its `plan` and `verify` steps."""

    migration_name: str | None
    rollback_source: str | None
    refused: list[str]
    rollback_gaps: list[str]
    rollback_verified: bool | None
    verification_problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration_name": self.migration_name, "rollback_source": self.rollback_source, "refused": self.refused,
            "rollback_gaps": self.rollback_gaps, "rollback_verified": self.rollback_verified, "verification_problems": self.verification_problems,
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
    facts: dict[str, Any]  # what the decision rested on, all of it, as the JSON carries it
    read: FailureFacts | RollbackJobFacts  # the same, as the report reads it

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "at": iso(self.at), "action": self.action, "verdict": self.verdict, "reasons": self.reasons,
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
        return {"step": self.step, "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "outcome": self.outcome, "summary": self.summary}


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
            "checked": self.checked, "step": self.step, "at": iso(self.at), "migration_state": self.migration_state,
            "up_to_date": self.up_to_date, "to_deploy": self.to_deploy, "failed": self.failed, "summary": self.summary,
        }  # fmt: skip


@dataclass(frozen=True)
class Restore:
    action: str | None  # restore | cutover | failover (its new_identifier: the replica that took over)
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
        return {"migration": self.migration, "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "outcome": self.outcome}


@dataclass(frozen=True)
class Recovery:
    """The recover job a deploy started when its apply failed (the `recover` step)."""

    job_id: str
    at: datetime | None
    because: str | None

    @property
    def report_url(self) -> str:
        return f"/v1/jobs/{self.job_id}/report"

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "url": f"/v1/jobs/{self.job_id}", "report_url": self.report_url, "at": iso(self.at), "because": self.because}


@dataclass(frozen=True)
class DriftReport:
    """The job's `drift` step: the target's schema against the shadow's replay of its applied migrations."""

    mode: str | None
    checked: bool
    error: str | None  # why it was not checked
    differences: list[str]  # one line each (service.analysis.drift_words)
    ignored: list[str]  # one line each, with the pattern that matched
    applied: list[str]
    schemas: list[str]
    notes: list[str]
    new: list[str] | None  # a drift job's: what the previous drift job did not find

    @property
    def drifted(self) -> bool | None:
        return bool(self.differences) if self.checked else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "checked": self.checked, "drifted": self.drifted, "error": self.error, "differences": self.differences,
            "ignored": self.ignored, "applied": self.applied, "schemas": self.schemas, "notes": self.notes, "new": self.new,
        }  # fmt: skip


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    event: str
    step: str | None
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": iso(self.at), "event": self.event, "step": self.step, "summary": self.summary}


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
    drift: DriftReport | None = None  # None: the job did not compare the target with its migrations

    @property
    def gates_a_deploy(self) -> bool:
        return self.job.kind in GATE_KINDS

    @property
    def checks_drift_only(self) -> bool:
        return self.job.kind is JobKind.DRIFT

    def to_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "title": self.title,
            "generated_at": iso(self.generated_at),
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
                "phase": text_or_none(job.params.get("phase")),
                "commit": text_or_none(job.params.get("commit")),
                "deployment_id": text_or_none(job.params.get("deployment_id")),
                "created_at": iso(job.created_at),
                "started_at": iso(job.started_at),
                "finished_at": iso(job.finished_at),
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
            "drift": self.drift.to_dict() if self.drift else None,
            "timeline": [entry.to_dict() for entry in self.timeline],
        }

    def to_markdown(self) -> str:
        return render_markdown(self)
