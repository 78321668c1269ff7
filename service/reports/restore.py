"""The report of a restore or cut-over job: steps plan, snapshot, start, poll:N, endpoint, cutover:*."""

from __future__ import annotations

from service.jobs.states import JobState
from service.reports.base import IncidentJobReport, item
from service.reports.model import ChecklistItem, Restore
from service.reports.steps import RestoreFacts
from service.reports.words import NOT_CHECKED, when


class RestoreReport(IncidentJobReport):
    def plan(self) -> RestoreFacts | None:
        run = self.journal.finished("plan")
        return RestoreFacts.from_dict(run.data) if run else None

    def restore(self) -> Restore:
        """What the restore is, from the first place that says it: the job's `restore` facts, its plan, its endpoint, its params."""
        sources = [RestoreFacts.from_dict(self.job.facts.get("restore") or {})]
        plan = self.plan()
        if plan is not None:
            sources += [plan, plan.plan or RestoreFacts()]
        # A restore's new instance, or (a cut-over's) the restored copy under the old name.
        for step in ("endpoint", "cutover:done"):
            available = self.journal.finished(step)
            if available is not None:
                sources.append(RestoreFacts.from_dict(available.data))
        sources.append(RestoreFacts.from_dict(self.job.params))

        def pick(*keys: str) -> str | None:
            found: list[str | None] = [getattr(source, key) for source in sources for key in keys]
            return next((value for value in found if value), None)

        host, port = pick("endpoint"), next((str(source.port) for source in sources if source.port), None)
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
        return item("migration_identified", None, None, "a restore brings back a whole database from a backup, not one migration")

    def sql_reviewed(self) -> ChecklistItem:
        return item("sql_reviewed", None, None, "a restore runs no migration or rollback SQL")

    def rollback_tested(self) -> ChecklistItem:
        return item("rollback_tested", None, None, "a restore runs no rollback SQL; it restores to a new instance and leaves the source as it is")

    def backup_accessible(self) -> ChecklistItem:
        restore = self.restore()
        if restore.action == "cutover":
            return item(
                "backup_accessible", None, None, "a cut-over swaps in an instance already restored; the backup it came from is in its restore job's report"
            )
        run, plan = self.journal.finished("plan"), self.plan()
        if run is not None and plan is not None:
            source = plan.source or "the source"
            if plan.snapshot_id:
                backup = f"snapshot {plan.snapshot_id} of {source} exists and is available"
            elif plan.restore_time:
                backup = f"{plan.restore_time} is inside the restorable window of {source}"
            else:
                latest = plan.latest_restorable_time
                backup = f"{source} has a latest restorable time" + (f" ({latest} when planned)" if latest else "")
            return item("backup_accessible", True, run.at, f"{backup}: checked with AWS when the restore was planned")
        asked = (
            f"snapshot {restore.snapshot_id}" if restore.snapshot_id else f"point in time {restore.point_in_time}" if restore.point_in_time
            else "the latest restorable time" if self.job.params.get("use_latest_restorable_time") else "no snapshot or point in time"
        )  # fmt: skip
        if self.job.state in (JobState.QUEUED, JobState.RUNNING):
            return item("backup_accessible", False, None, f"{asked} was asked for; not yet checked with AWS")
        why = f": {self.job.reasons[0]}" if self.job.reasons else ""
        return item("backup_accessible", False, None, f"{asked} was asked for, but the restore could not be planned{why}")

    def rollback_executed(self) -> ChecklistItem:
        started = self.journal.finished("start")
        also = f"; the restore to a new instance started at {when(started.at)}" if started else ""
        return item("rollback_executed", None, None, f"a restore brings back a backup instead of running rollback SQL{also}")

    def history_updated(self) -> ChecklistItem:
        return item("history_updated", None, None, "a restore does not edit the migration history: the restored copy holds the history as it was in the backup")

    def functionality_verified(self) -> ChecklistItem:
        available = self.journal.finished("endpoint") or self.journal.finished("cutover:done")
        if available is None:
            return super().functionality_verified()
        where = self.restore().endpoint or RestoreFacts.from_dict(available.data).endpoint
        return item("functionality_verified", False, None, f"the instance is available{f' at {where}' if where else ''} ({when(available.at)}); {NOT_CHECKED}")
