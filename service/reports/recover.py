"""The report of a recover job: a failed migration, and what was done about it.

Its steps: facts:N and decide:N for each round, act:N:* (what the decision did), apply:*,
wait_for_lock:N, recheck.
"""

from __future__ import annotations

from service.reports.base import IncidentJobReport, item
from service.reports.journal import StepRun
from service.reports.model import ChecklistItem, Decision, Failure, HistoryState, RollbackSql
from service.reports.steps import DecideStep, FactsStep, FailureFacts
from service.reports.words import action_words, history_words, nothing_to_roll_back, rollback_words, step_summary, undone, when

_CHANGES_HISTORY = ("mark_rolled_back", "mark_applied", "rollback_sql", "deploy", "deploy_pending")


class RecoverReport(IncidentJobReport):
    def rounds(self) -> list[tuple[StepRun, FactsStep, StepRun | None]]:
        """(facts:N, its record, decide:N) for each round, in order."""
        rounds = []
        for facts in self.journal.family("facts"):
            if facts.outcome == "finished":
                rounds.append((facts, FactsStep.from_dict(facts.data), self.journal.finished(f"decide:{facts.last_part}")))
        return rounds

    def first_facts(self) -> FactsStep | None:
        rounds = self.rounds()
        return rounds[0][1] if rounds else None

    def migration(self) -> str | None:
        first = self.first_facts()
        return (first.facts.migration_name if first else None) or super().migration()

    def failure(self) -> Failure | None:
        first = self.first_facts()
        if first is None:
            return None
        facts = first.facts
        return Failure(facts.migration_name, facts.sqlstate, facts.message, facts.error_class, facts.attempts, first.run_started_at)

    def decisions(self) -> list[Decision]:
        decisions = []
        for _, facts, decided in self.rounds():
            if decided is None:
                continue
            decision = DecideStep.from_dict(decided.data)
            decisions.append(
                Decision(
                    step=decided.step,
                    at=decided.at,
                    action=str(decision.action),
                    verdict=decision.verdict,
                    reasons=list(decision.reasons),
                    plan=list(decision.plan),
                    needs_approval=decision.needs_approval,
                    facts=dict(facts.raw_facts),
                    read=facts.facts,
                )
            )
        return decisions

    def rollback_sql(self) -> RollbackSql | None:
        rounds = self.rounds()
        last = rounds[-1][1] if rounds else None
        if last is None or last.rollback is None:
            return None
        plan, facts = last.rollback, last.facts
        return RollbackSql(
            source=plan.source or "none",
            complete=bool(plan.complete if facts.rollback_complete is None else facts.rollback_complete),
            verified=facts.rollback_verified,
            sql=plan.sql,
            gaps=list(facts.rollback_gaps),
            not_needed_because=nothing_to_roll_back(facts),
        )

    def history(self) -> HistoryState | None:
        checked = super().history()
        if checked is not None:
            return checked
        changed = self.history_changes()
        if not changed:
            return None
        last = changed[-1]
        return HistoryState(False, last.step, last.at, None, None, [], [], f"not re-read after acting; the last change: {step_summary(last)}")

    def history_changes(self) -> list[StepRun]:
        return [run for run in self.journal.family("act") if run.last_part in _CHANGES_HISTORY and run.outcome == "finished"]

    def acts(self, what: str) -> list[StepRun]:
        return [run for run in self.journal.family("act") if run.last_part == what]

    def no_failure_note(self) -> str | None:
        """Why there is nothing to identify, when the job found no failed migration."""
        if self.rounds():
            return None
        if self.journal.finished("recheck") or any(run.last_part == "deploy_pending" for run in self.journal.family("act")):
            return "the history holds no failed migration"
        return None

    def not_started(self, item_id: str) -> ChecklistItem:
        """An item before the first round: not applicable when there was no failure, else not yet."""
        nothing = self.no_failure_note()
        return item(item_id, None if nothing else False, None, nothing or self.waiting_note())

    def migration_identified(self) -> ChecklistItem:
        rounds = self.rounds()
        if not rounds:
            nothing = self.no_failure_note()
            if nothing:
                return item("migration_identified", None, None, nothing)
            waits = [run for run in self.journal.family("wait_for_lock") if run.outcome == "finished"]
            if waits:
                return item("migration_identified", False, None, f"not yet: waiting for Prisma's migration lock ({step_summary(waits[-1])})")
            return item("migration_identified", False, None, self.waiting_note())
        failure = self.failure()
        assert failure is not None, "a round has facts"
        started = f" (its run started {when(failure.started_at)})" if failure.started_at else ""
        return item(
            "migration_identified",
            True,
            rounds[0][0].at,
            f"{failure.migration}: the failed row in _prisma_migrations{started}, "
            f"{failure.sqlstate or 'no SQLSTATE'} ({failure.error_class}): {failure.message or 'no message'}",
        )

    def sql_reviewed(self) -> ChecklistItem:
        rounds = self.rounds()
        if not rounds:
            return self.not_started("sql_reviewed")
        read = rounds[-1][1]
        facts = read.facts
        name = facts.migration_name
        if not facts.in_bundle:
            return item(
                "sql_reviewed",
                False,
                None,
                f"the bundle has no {name}/migration.sql with the checksum of the run that failed, so its SQL could not be reviewed",
            )
        if not facts.parses:
            return item("sql_reviewed", False, None, f"{name} does not parse, so its statements could not be reviewed")
        statements = "?" if read.statement_count is None else read.statement_count
        words = [
            f"{name} parsed with PostgreSQL's parser ({statements} statements)",
            "transactional" if facts.transactional else "not transactional: " + "; ".join(facts.not_transactional_because[:2]),
            "idempotent" if facts.idempotent else "not idempotent: " + "; ".join(facts.unguarded[:2]),
            rollback_words(facts),
        ]
        return self.reviewed_by_person("; ".join(w for w in words if w))

    def rollback_tested(self) -> ChecklistItem:
        rounds = self.rounds()
        decisions = self.decisions()
        if not rounds or not decisions:
            return self.not_started("rollback_tested")
        needing = [d for d in decisions if d.action == "run_rollback_sql"]
        if not needing:
            last = decisions[-1]
            if last.action == "none" and not undone(_failure_facts(last)):
                return item("rollback_tested", False, None, f"not tested: {action_words(last)}")
            return item("rollback_tested", None, None, f"no rollback SQL was needed: {action_words(last)}")
        decision = needing[-1]
        facts_run, read = next((run, read) for run, read, decided in rounds if decided is not None and decided.step == decision.step)
        verified = read.facts.rollback_verified
        if verified is True:
            return item(
                "rollback_tested",
                True,
                facts_run.at,
                "the rollback SQL was verified on the shadow server: the catalog after migration and rollback matched the one before",
            )
        if verified is False:
            problems = read.verification_errors
            return item(
                "rollback_tested", False, None, "the rollback SQL did not pass on the shadow server" + (f": {'; '.join(problems[:3])}" if problems else "")
            )
        approved = self.approval_of(f"act:{facts_run.last_part}")
        extra = f"; {approved.by} approved running it at {when(approved.at)}" if approved is not None and approved.approved else ""
        return item("rollback_tested", False, None, f"not tested: no shadow server is configured to verify the rollback SQL{extra}")

    def rollback_executed(self) -> ChecklistItem:
        runs = self.acts("rollback_sql")
        finished = [run for run in runs if run.outcome == "finished"]
        if finished:
            run = finished[-1]
            return item("rollback_executed", True, run.at, f"{step_summary(run)} ({run.step})")
        failed = [run for run in runs if run.outcome == "failed"]
        if failed:
            return item("rollback_executed", False, None, f"the rollback SQL failed and was undone: {step_summary(failed[-1])}")
        decisions = self.decisions()
        if not decisions:
            return self.not_started("rollback_executed")
        if any(d.action == "run_rollback_sql" for d in decisions):
            return item("rollback_executed", False, None, self.waiting_note())
        last = decisions[-1]
        if last.action == "none":
            return item("rollback_executed", False, None, "no rollback SQL was run: the decision was to stop and leave a plan to a person")
        return item("rollback_executed", None, None, f"no rollback SQL was needed: {action_words(last)}")

    def history_updated(self) -> ChecklistItem:
        changes = self.history_changes()
        if changes:
            words = "; ".join(f"{history_words(run)} ({run.step}, {when(run.at)})" for run in changes)
            return item("history_updated", True, changes[-1].at, words)
        nothing = self.no_failure_note()
        if nothing:
            return item("history_updated", None, None, f"{nothing}, and nothing was applied")
        decisions = self.decisions()
        if decisions and decisions[-1].action == "none":
            return item("history_updated", False, None, "the history was not changed: the decision was to stop and leave a plan to a person")
        return item("history_updated", False, None, self.waiting_note())


def _failure_facts(decision: Decision) -> FailureFacts:
    assert isinstance(decision.read, FailureFacts), "a recover job decides on a failure's facts"
    return decision.read
