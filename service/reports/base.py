"""What every job's report shares, and the report of the jobs that gate a deploy (check, deploy).

Each kind of job has a builder (`JobReport` here and its subclasses in service.reports.recover,
.rollback and .restore) that says what failed, what was decided and how the runbook's checklist
reads. An item is done only when the journal shows it happened: "team notified" when the
notification task journaled a delivery (enqueued is not delivered), "reviewed" when a person
approved a plan that showed the SQL (deploy-gate parsing it is no review), and "functionality
verified" never: deploy-gate cannot see the application.
"""

from __future__ import annotations

from datetime import datetime

from service.jobs.states import JobState
from service.reports.events import ApprovalShown
from service.reports.journal import Approval, Journal, StepRun
from service.reports.model import (
    CHECKLIST,
    Action,
    AppliedMigration,
    ChecklistItem,
    Decision,
    DriftReport,
    Failure,
    HistoryState,
    IncidentReport,
    LintFinding,
    MigrationLine,
    PendingApproval,
    Recovery,
    Restore,
    RollbackSql,
    TimelineEntry,
)
from service.reports.steps import DriftStep, LintStep, RecoverStep, SnapshotStep, StatusStep, text_or_none
from service.reports.words import NOT_CHECKED, step_summary, timeline_summary, told_words, when
from service.store.repository import Job

_NO_NOTIFICATION = "no notification recorded"


def item(item_id: str, done: bool | None, at: datetime | None, evidence: str) -> ChecklistItem:
    return ChecklistItem(item_id, dict(CHECKLIST)[item_id], done, at if done else None, evidence)


def history_from_status(run: StepRun, migration: str | None) -> HistoryState:
    status = StatusStep.from_dict(run.data)
    state = status.state_of(migration) if migration else None
    words = []
    if migration:
        words.append(f"{migration} is {(state or 'not in the history').replace('_', ' ')}")
    words.append("no failed migration" if not status.failed else f"failed: {', '.join(status.failed)}")
    words.append(f"to deploy: {', '.join(status.to_deploy)}" if status.to_deploy else "nothing to deploy")
    return HistoryState(True, run.step, run.at, state, status.up_to_date, list(status.to_deploy), list(status.failed), "; ".join(words))


class JobReport:
    """The report of a check or deploy job: status, lint, then (a deploy) apply:NAME per migration, or
    recover after a failed apply. It has no checklist (nothing was rolled back); the other kinds
    override what applies to them."""

    def __init__(self, job: Job, journal: Journal, generated_at: datetime) -> None:
        self.job = job
        self.journal = journal
        self.generated_at = generated_at
        self.approvals = journal.approvals()
        self.shown = ApprovalShown.from_dict(job.facts.get("approval") or {})

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
            actions=[Action(run.step, run.started_at, run.ended_at, run.outcome, step_summary(run)) for run in self.journal.actions()],
            approvals=self.approvals,
            pending_approval=self.pending_approval(),
            history=self.history(),
            restore=self.restore(),
            timeline=[TimelineEntry(e.id, e.at, e.kind, e.step, timeline_summary(e)) for e in self.journal.events],
            checklist=self.checklist(),
            migrations=self.migrations(),
            lint=self.lint(),
            applied=[AppliedMigration(run.step.partition(":")[2], run.started_at, run.ended_at, run.outcome) for run in self.journal.family("apply")],
            recovery=self.recovery(),
            drift=self.drift(),
        )

    def title(self, migration: str | None) -> str:
        commit = text_or_none(self.job.params.get("commit"))
        return f"{self.job.kind.value.capitalize()} report: {self.job.target}" + (f" at commit {commit}" if commit else "")

    def checklist(self) -> list[ChecklistItem]:
        return []

    def migrations(self) -> list[MigrationLine] | None:
        status = self.journal.finished("status")
        if status is None:
            return None
        read = StatusStep.from_dict(status.data).migrations
        return [MigrationLine(str(m.name), str(m.state), m.edited, m.sqlstate, m.message) for m in read]

    def lint(self) -> list[LintFinding] | None:
        lint = self.journal.finished("lint")
        if lint is None:
            return None
        return [LintFinding(f.migration, f.line, f.column, f.rule, f.severity, f.message, f.help) for f in LintStep.from_dict(lint.data).findings]

    def drift(self) -> DriftReport | None:
        run = self.journal.finished("drift")
        if run is None:
            return None
        step = DriftStep.from_dict(run.data)
        ignored = [f"{d.text} (ignored: {d.ignored_by})" for d in step.ignored]
        return DriftReport(
            step.mode, step.checked, step.error, [d.text for d in step.differences], ignored,
            list(step.applied), list(step.schemas), list(step.notes), list(step.new) if step.new is not None else None,
        )  # fmt: skip

    def recovery(self) -> Recovery | None:
        run = self.journal.finished("recover")
        recover = RecoverStep.from_dict(run.data) if run else None
        if run is None or recover is None or recover.job is None:
            return None
        return Recovery(recover.job, run.at, recover.because)

    def migration(self) -> str | None:
        return text_or_none(self.job.params.get("migration"))

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
        return PendingApproval(self.shown.step, list(self.shown.plan))

    def history(self) -> HistoryState | None:
        recheck = self.journal.finished("recheck")
        if recheck is None:
            return None
        return history_from_status(recheck, self.migration())


class IncidentJobReport(JobReport):
    """A job that undoes or restores something (recover, rollback, restore): the runbook's checklist.

    The items every kind reads the same way are here; each kind says the rest.
    """

    def title(self, migration: str | None) -> str:
        subject = f" of {migration}" if migration else ""
        return f"Incident report: {self.job.kind.value}{subject} on {self.job.target}"

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

    def migration_identified(self) -> ChecklistItem:
        raise NotImplementedError

    def sql_reviewed(self) -> ChecklistItem:
        raise NotImplementedError

    def rollback_tested(self) -> ChecklistItem:
        raise NotImplementedError

    def rollback_executed(self) -> ChecklistItem:
        raise NotImplementedError

    def history_updated(self) -> ChecklistItem:
        raise NotImplementedError

    def team_notified(self) -> ChecklistItem:
        """Done only on a journaled delivery: enqueued is not told."""
        told = self.journal.notifications()
        if not told:
            return item("team_notified", False, None, _NO_NOTIFICATION)
        delivered = [t for t in told if t.delivered]
        return item("team_notified", bool(delivered), delivered[0].at if delivered else None, "; ".join(told_words(t, self.job.target) for t in told))

    def backup_accessible(self) -> ChecklistItem:
        snapshot = next((run for run in self.journal.runs if run.family == "snapshot" and run.outcome == "finished"), None)
        if snapshot is not None:
            found = SnapshotStep.from_dict(snapshot.data).snapshot_id
            return item("backup_accessible", True, snapshot.at, f"snapshot {found or 'taken'} before acting ({snapshot.step})")
        parent = f"; a snapshot before apply, if the policy takes one, is in the journal of deploy job {self.job.parent_id}" if self.job.parent_id else ""
        return item("backup_accessible", False, None, f"no backup recorded by this job: deploy-gate did not check the target's backups for it{parent}")

    def functionality_verified(self) -> ChecklistItem:
        """Never done by deploy-gate: re-reading the migration history is not checking the application."""
        return item("functionality_verified", False, None, NOT_CHECKED)

    def incident_documented(self) -> ChecklistItem:
        return item("incident_documented", True, self.generated_at, f"this report, generated from {len(self.journal.events)} journal events")

    def reviewed_by_person(self, machine_read: str) -> ChecklistItem:
        """Done only when a person approved a plan that showed the SQL (the details under `facts.approval`).

        `machine_read` is what deploy-gate made of the SQL: evidence, never a review.
        """
        shown = self.shown
        approved = [a for a in self.approvals if a.approved]
        read = f"deploy-gate read it: {machine_read}"
        reviewed = next((a for a in reversed(approved) if a.step == shown.step and shown.showed_sql), None)
        if reviewed is not None:
            return item("sql_reviewed", True, reviewed.at, f"{reviewed.by} approved a plan that showed the rollback SQL ({reviewed.step}); {read}")
        if self.job.state is JobState.WAITING_APPROVAL:
            why = f"not reviewed by a person yet: the plan of {shown.step} waits for approval"
        elif approved and approved[-1].step == shown.step:
            why = f"not reviewed by a person: the plan {approved[-1].by} approved ({approved[-1].step}) showed no SQL"
        elif approved:
            why = f"not reviewed by a person: what {approved[-1].by} approved ({approved[-1].step}) is not on record with its SQL"
        else:
            why = "not reviewed by a person: no one approved a plan that showed the SQL"
        return item("sql_reviewed", False, None, f"{why}; {read}")

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
            return f"not done: the plan was rejected by {rejected.by} at {when(rejected.at)}" + (f" ({rejected.comment})" if rejected.comment else "")
        return f"not done: the job ended {self.job.state.value}" + (f" with verdict {self.job.verdict.value}" if self.job.verdict else "")
