"""Typed records of the journal's other entries: notifications, approvals, transitions, and the
plan a person was shown (the job's `approval` facts). Same contract as service.reports.steps:
`from_dict` reads the keys the writer journals, `to_dict` writes them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from service.reports.steps import Data, mapping, plain, text_or_none, texts


@dataclass(frozen=True)
class Notified:
    """A notification as journaled: the job's `notify:*` step, or the delivery task's note."""

    notification: str | None = None
    outcome: str | None = None  # the note's outcome, or the step's handoff
    status: int | None = None  # the receiver's HTTP status
    attempt: int | None = None
    error: str | None = None
    reason: str | None = None

    @classmethod
    def from_step(cls, data: Data) -> Self:
        return cls(text_or_none(data.get("notification")), text_or_none(data.get("handoff")), data.get("status"), data.get("attempt"),
                   text_or_none(data.get("error")), text_or_none(data.get("reason")))  # fmt: skip

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        """A delivery note (repository.record_notification_outcome)."""
        return cls(text_or_none(data.get("notification")), text_or_none(data.get("outcome")), data.get("status"), data.get("attempt"),
                   text_or_none(data.get("error")), text_or_none(data.get("reason")))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return plain(self)

    @staticmethod
    def is_delivery(data: Data) -> bool:
        return "notification" in data and "outcome" in data


@dataclass(frozen=True)
class ApprovalEvent:
    """An `approval` event: a person's answer to a step that waited."""

    approved: bool = False
    by: str | None = None
    comment: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(bool(data.get("approved")), text_or_none(data.get("by")), text_or_none(data.get("comment")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class ApprovalShown:
    """The job's `approval` facts: the step that waits and what the person was shown (service.jobs.runner)."""

    step: str | None = None
    plan: tuple[str, ...] = ()
    showed_sql: bool = False

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        showed = bool(data.get("sql") or mapping(data.get("rollback")).get("sql"))
        return cls(text_or_none(data.get("step")), texts(data.get("plan")), showed)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "plan": list(self.plan), "sql": "(shown)" if self.showed_sql else None}


@dataclass(frozen=True)
class Transition:
    """A `transition` event's data: the job's creation, or a move between states and who made it."""

    kind: str = ""
    target: str = ""
    verdict: str | None = None
    by: tuple[tuple[str, str], ...] = field(default=())  # (words, who), in _BY's order

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        by = tuple((words, str(data[key])) for key, words in _BY if data.get(key))
        return cls(str(data.get("kind", "")), str(data.get("target", "")), text_or_none(data.get("verdict")), by)

    def to_dict(self) -> dict[str, Any]:
        keys = {words: key for key, words in _BY}
        return {"kind": self.kind, "target": self.target, "verdict": self.verdict, **{keys[words]: who for words, who in self.by}}


_BY = (("approved_by", "approved by"), ("rejected_by", "rejected by"), ("decided_by", "verdict from job"), ("by", "by"))
