"""The report of a failover job: steps plan, start, poll:N, endpoint (service.jobs.failover).

It fills the report's restore section (`Restore`, action `failover`): the replica that takes over
is the resource the application moves to, as a restore's new instance is.
"""

from __future__ import annotations

from service.jobs.states import JobState
from service.reports.base import IncidentJobReport, item
from service.reports.model import ChecklistItem, Restore
from service.reports.steps import AwsStep, FailoverFacts, text_or_none
from service.reports.words import NOT_CHECKED, when


class FailoverReport(IncidentJobReport):
    def plan(self) -> FailoverFacts:
        run = self.journal.finished("plan")
        return FailoverFacts.from_dict(run.data) if run else FailoverFacts()

    def replica(self) -> str | None:
        return self.plan().replica or text_or_none(self.job.params.get("replica"))

    def restore(self) -> Restore:
        available = self.journal.finished("endpoint")
        plan = self.plan()
        return Restore(
            action="failover",
            source=plan.source,
            snapshot_id=None,
            point_in_time=None,
            new_identifier=self.replica(),
            endpoint=AwsStep.from_dict(available.data).address if available else None,
            summary=plan.summary,
        )

    def title(self, migration: str | None) -> str:
        replica = self.replica()
        return f"Incident report: failover of {self.job.target}" + (f" to {replica}" if replica else "")

    def migration_identified(self) -> ChecklistItem:
        return item("migration_identified", None, None, "a failover replaces a failing database with its read replica; no single migration is concerned")

    def sql_reviewed(self) -> ChecklistItem:
        return item("sql_reviewed", None, None, "a failover runs no migration or rollback SQL")

    def rollback_tested(self) -> ChecklistItem:
        return item("rollback_tested", None, None, "a failover runs no rollback SQL; the replica takes over as it is")

    def backup_accessible(self) -> ChecklistItem:
        run, plan = self.journal.finished("plan"), self.plan()
        if run is not None:
            what = f"a reader instance of cluster {plan.source}" if plan.aurora else f"a read replica of instance {plan.source}"
            checked = f"{plan.replica} was checked with AWS to be {what}, and available, at {when(run.at)}"
            return item("backup_accessible", None, None, f"a failover uses the read replica, not a backup: {checked}")
        if self.job.state in (JobState.QUEUED, JobState.RUNNING):
            return item("backup_accessible", None, None, f"a failover uses the read replica, not a backup; {self.replica()} is not yet checked with AWS")
        why = f": {self.job.reasons[0]}" if self.job.reasons else ""
        return item("backup_accessible", None, None, f"a failover uses the read replica, not a backup; the failover could not be planned{why}")

    def rollback_executed(self) -> ChecklistItem:
        started = self.journal.finished("start")
        also = f"; AWS was asked to fail over at {when(started.at)}" if started else ""
        return item("rollback_executed", None, None, f"a failover hands the database to its replica instead of running rollback SQL{also}")

    def history_updated(self) -> ChecklistItem:
        return item("history_updated", None, None, "a failover does not edit the migration history: the replica holds the history it replicated")

    def functionality_verified(self) -> ChecklistItem:
        available = self.journal.finished("endpoint")
        if available is None:
            return super().functionality_verified()
        where = AwsStep.from_dict(available.data).address
        return item("functionality_verified", False, None, f"the replica serves writes{f' at {where}' if where else ''} ({when(available.at)}); {NOT_CHECKED}")
