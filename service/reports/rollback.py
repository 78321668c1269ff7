"""The report of a rollback job: an applied migration rolled back (steps plan, verify, execute, recheck)."""

from __future__ import annotations

from service.reports.base import IncidentJobReport, item
from service.reports.events import ApprovalShown
from service.reports.journal import StepRun
from service.reports.model import ChecklistItem, Decision, RollbackJobFacts, RollbackSql
from service.reports.steps import HistoryWrite, RollbackPlan, VerifyStep
from service.reports.words import source_words, step_summary


class RollbackReport(IncidentJobReport):
    def plan_run(self) -> StepRun | None:
        return self.journal.finished("plan")

    def plan(self) -> RollbackPlan | None:
        run = self.plan_run()
        return RollbackPlan.from_dict(run.data) if run else None

    def verify_run(self) -> StepRun | None:
        return self.journal.finished("verify")

    def verify(self) -> VerifyStep | None:
        run = self.verify_run()
        return VerifyStep.from_dict(run.data) if run else None

    def refused(self) -> list[str]:
        plan = self.plan()
        return list(plan.refused or ()) if plan else []

    def decisions(self) -> list[Decision]:
        run, plan = self.plan_run(), self.plan()
        if run is None or plan is None:
            return []
        name = self.migration()
        refused = self.refused()
        verify_run, verify = self.verify_run(), self.verify()
        facts = RollbackJobFacts(
            migration_name=name,
            rollback_source=plan.source,
            refused=refused,
            rollback_gaps=list(plan.reasons),
            rollback_verified=verify.verified if verify else None,
            verification_problems=list(verify.problems) if verify else [],
        )
        if refused:
            return [Decision(run.step, run.at, "none", "blocked", refused, [], False, facts.to_dict(), facts)]
        reasons = [f"rollback SQL of {name} from its {plan.source}"]
        if verify is not None:
            verified = verify.verified
            reasons.append(
                "verified on the shadow server" if verified else "did not pass on the shadow server" if verified is False
                else "not verified: the target has no shadow server"
            )  # fmt: skip
        shown = self.job.facts.get("approval") or {}
        steps = list(ApprovalShown.from_dict(shown).plan)
        decided = verify_run or run
        return [Decision(decided.step, decided.at, "run_rollback_sql", None, reasons, steps, bool(shown), facts.to_dict(), facts)]

    def rollback_sql(self) -> RollbackSql | None:
        plan = self.plan()
        if plan is None or plan.source in (None, "none"):
            return None
        verify = self.verify()
        return RollbackSql(
            source=str(plan.source),
            complete=not plan.refused,
            verified=verify.verified if verify else None,
            sql=plan.sql,
            gaps=list(plan.reasons),
        )

    def migration_identified(self) -> ChecklistItem:
        run, plan = self.plan_run(), self.plan()
        if run is None or plan is None:
            return item("migration_identified", False, None, self.waiting_note())
        if plan.source in (None, "none"):
            return item("migration_identified", False, None, "not settled: the rollback was refused: " + "; ".join(self.refused()))
        return item(
            "migration_identified",
            True,
            run.at,
            f"{self.migration()}, named by {self.job.requested_by}: its applied row in _prisma_migrations matches the bundle's file",
        )

    def sql_reviewed(self) -> ChecklistItem:
        plan = self.plan()
        if plan is None or plan.source in (None, "none"):
            return item("sql_reviewed", False, None, self.waiting_note() if plan is None else "there was no file to review")
        refused = self.refused()
        words = [f"rollback SQL from its {source_words(plan.source)}, parsed and checked against the effects of {self.migration()}"]
        words.append("refused: " + "; ".join(refused) if refused else "complete, and runs in one transaction")
        return self.reviewed_by_person("; ".join(words))

    def rollback_tested(self) -> ChecklistItem:
        if self.refused():
            return item("rollback_tested", None, None, "nothing to test: the rollback was refused before it could be tested")
        run, verify = self.verify_run(), self.verify()
        if run is None or verify is None:
            return item("rollback_tested", False, None, self.waiting_note())
        if verify.verified is True:
            return item("rollback_tested", True, run.at, "verified on the shadow server: the catalog after migration and rollback matched the one before")
        if verify.verified is False:
            return item("rollback_tested", False, None, "did not pass on the shadow server: " + "; ".join(verify.problems[:3]))
        return item("rollback_tested", False, None, "not tested: the target has no shadow server to verify the rollback SQL on")

    def rollback_executed(self) -> ChecklistItem:
        run = self.journal.last("execute")
        if run is not None and run.outcome == "finished":
            return item("rollback_executed", True, run.at, step_summary(run))
        if run is not None and run.outcome == "failed":
            return item("rollback_executed", False, None, f"the rollback SQL failed and was undone: {step_summary(run)}")
        refused = self.refused()
        if refused:
            return item("rollback_executed", False, None, "not run: the rollback was refused: " + "; ".join(refused))
        verify = self.verify()
        if verify is not None and verify.verified is False:
            return item("rollback_executed", False, None, "not run: the rollback SQL did not pass on the shadow server")
        return item("rollback_executed", False, None, self.waiting_note())

    def history_updated(self) -> ChecklistItem:
        run = self.journal.finished("execute")
        if run is None:
            return item("history_updated", False, None, "the history was not changed: " + self.rollback_executed().evidence)
        wrote = HistoryWrite.from_dict(run.data)
        rows = wrote.rolled_back_rows or ()
        words = (
            f"rolled_back_at set on {len(rows)} finished row(s) of {self.migration()} in the rollback's own transaction"
            if rows else wrote.note or "already recorded as rolled back"
        )  # fmt: skip
        return item("history_updated", True, run.at, words)
