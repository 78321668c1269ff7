"""A job's journal as a report reads it: step runs paired up, approvals and notifications picked out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.reports.events import ApprovalEvent, Notified
from service.reports.steps import StepFailure
from service.store.repository import JobEvent

# Steps that only read: everything else a job journals changed something (or tried to).
READING_STEPS = frozenset(
    {
        "facts",
        "decide",
        "plan",
        "verify",
        "recheck",
        "wait_for_lock",
        "wait_for_blockers",
        "wait_for_catalog",
        "wait_for_target",
        "wait_for_shadow",
        "poll",
        "endpoint",
        "status",
        "lint",
    }
)
# Sub-steps that only record what AWS said or that a wait ran out (`cutover:poll:2`, `snapshot:available`, `cutover:stuck`).
READING_PARTS = frozenset({"poll", "available", "done", "timed_out", "stuck"})
NOTIFICATION_STEPS = ("notify", "notification")


@dataclass(frozen=True)
class StepRun:
    """One run of a step: from its `step_started` to its `step_finished` or `step_failed`.

    `data` is what the step journaled; read it through a record of service.reports.steps.
    """

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

    @property
    def failure(self) -> StepFailure:
        return StepFailure.from_dict(self.data)


@dataclass(frozen=True)
class Approval:
    step: str | None
    approved: bool
    by: str | None
    at: datetime
    comment: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "approved": self.approved, "by": self.by, "at": self.at.isoformat(), "comment": self.comment}


@dataclass(frozen=True)
class Told:
    """One notification as the journal shows it: handed on by the job (`notify:*`), or its delivery's outcome (a note).

    outcome: delivered | rejected | gave_up | dropped (the delivery task); enqueued | not_configured | failed | unknown (the job).
    """

    at: datetime | None
    kind: str
    outcome: str
    details: Notified

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


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
            if run.family not in READING_STEPS and run.family not in NOTIFICATION_STEPS and not READING_PARTS & set(run.step.split(":")[1:])
        ]  # fmt: skip

    def approvals(self) -> list[Approval]:
        approvals = []
        for event in self.events:
            if event.kind == "approval":
                answer = ApprovalEvent.from_dict(event.data)
                approvals.append(Approval(event.step, answer.approved, answer.by, event.at, answer.comment))
        return approvals

    def notifications(self) -> list[Told]:
        """Each notification: what became of it when its delivery is journaled, else what the job did with it."""
        outcomes = [delivery(event) for event in self.events if is_delivery(event)]
        # A journaled outcome stands for one notification of its kind the job handed on.
        unmatched = Counter(told.kind for told in outcomes)
        told = list(outcomes)
        for run in self.runs:
            if run.family not in NOTIFICATION_STEPS or run.outcome != "finished":
                continue
            handed = handed_on(run)
            if handed.outcome in ("enqueued", "unknown") and unmatched[handed.kind]:
                unmatched[handed.kind] -= 1
            else:
                told.append(handed)
        latest = datetime.max.replace(tzinfo=UTC)
        return sorted(told, key=lambda entry: entry.at or latest)


def is_delivery(event: JobEvent) -> bool:
    """A note the notification task journaled (repository.record_notification_outcome)."""
    return event.kind == "note" and Notified.is_delivery(event.data)


def delivery(event: JobEvent) -> Told:
    note = Notified.from_dict(event.data)
    return Told(event.at, str(note.notification), str(note.outcome), note)


def handed_on(run: StepRun) -> Told:
    """What a `notify:*` step did with its notification."""
    step = Notified.from_step(run.data)
    kind = step.notification or (run.step.split(":")[1] if ":" in run.step else run.step)
    return Told(run.at, kind, step.outcome or "unknown", step)


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
        found = open_runs.pop(event.step, None)
        if found is None:  # an end without a start (a resolution journaled after a worker died)
            found = {"step": event.step, "started_at": None, "ended_at": None, "outcome": "running", "data": {}}
            runs.append(found)
        found.update(ended_at=event.at, outcome=phase, data=dict(event.data))
    return [StepRun(**run) for run in runs]
