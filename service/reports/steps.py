"""Typed records of the journal steps a report reads: one frozen dataclass per step kind.

Each record names the keys its step's data carries, in one place: `from_dict(data)` reads a
journaled step's data, `to_dict()` writes the same keys back (`from_dict(to_dict())` round-trips).
A report reads step data only through these records, so a key renamed on one side is caught by the
tests that parse real journals (tests/service/reports/test_steps.py), not discovered in a report
that silently says "None".

Keys the report does not read are ignored: the journal keeps everything a step recorded, the
report reads what it shows. A missing key reads as the field's stated default (None, empty, False),
which is what the report says of a step that recorded nothing of it. Values are coerced to the
field's type (`str`, `int`, `bool`) only where the journal holds JSON of that type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

Data = Mapping[str, Any]


def text_or_none(value: Any) -> str | None:
    """A journaled value as text, None when it is missing or empty."""
    return str(value) if value not in (None, "") else None


def texts(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


def mapping(value: Any) -> Data:
    return value if isinstance(value, Mapping) else {}


def plain(record: Any) -> dict[str, Any]:
    """A flat record's fields under the journal's keys (the field names), as JSON values (tuples as lists).

    Fields that read as missing (None, empty) are left out, so that what a record writes is a part of
    what the step journaled, and reads back as the same record.
    """
    return {name: list(value) if isinstance(value, tuple) else value for name, value in vars(record).items() if value not in (None, "", ())}


def plain_mapping(data: Data) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class StepFailure:
    """A `step_failed` event's data: what went wrong (`error`), or how a died worker's step was resolved."""

    error: str | None = None
    resolution: str | None = None
    code: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(text_or_none(data.get("error")), text_or_none(data.get("resolution")), text_or_none(data.get("code")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class FailureFacts:
    """The `facts` of a recover job's `facts:N` step (service.recovery.decide.FailureFacts.to_dict)."""

    migration_name: str | None = None
    sqlstate: str | None = None
    message: str | None = None
    error_class: str | None = None
    attempts: int | None = None
    in_bundle: bool = False
    parses: bool = False
    effects: str | None = None  # none | all | partial | unknown
    fully_probed: bool = True
    transactional: bool = False
    not_transactional_because: tuple[str, ...] = ()
    idempotent: bool = False
    unguarded: tuple[str, ...] = ()
    rollback_source: str | None = None  # section | derived | none
    rollback_complete: bool | None = None  # None: not recorded
    rollback_verified: bool | None = None  # None: no shadow server
    rollback_gaps: tuple[str, ...] = ()
    max_automatic_retries: int | None = None
    retries_left: int | None = None
    automatic_rollback: bool = False
    invalid_indexes: tuple[str, ...] = ()
    lock_holder: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            migration_name=text_or_none(data.get("migration_name")),
            sqlstate=text_or_none(data.get("sqlstate")),
            message=text_or_none(data.get("message")),
            error_class=text_or_none(data.get("error_class")),
            attempts=data.get("attempts"),
            in_bundle=bool(data.get("in_bundle")),
            parses=bool(data.get("parses")),
            effects=text_or_none(data.get("effects")),
            fully_probed=bool(data.get("fully_probed", True)),
            transactional=bool(data.get("transactional")),
            not_transactional_because=texts(data.get("not_transactional_because")),
            idempotent=bool(data.get("idempotent")),
            unguarded=texts(data.get("unguarded")),
            rollback_source=text_or_none(data.get("rollback_source")),
            rollback_complete=None if data.get("rollback_complete") is None else bool(data["rollback_complete"]),
            rollback_verified=data.get("rollback_verified"),
            rollback_gaps=texts(data.get("rollback_gaps")),
            max_automatic_retries=data.get("max_automatic_retries"),
            retries_left=data.get("retries_left"),
            automatic_rollback=bool(data.get("automatic_rollback")),
            invalid_indexes=texts(data.get("invalid_indexes")),
            lock_holder=text_or_none(data.get("lock_holder")),
        )

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class RollbackPlan:
    """A rollback plan as journaled: a recover job's `facts:N` `rollback`, or a rollback job's `plan` step."""

    source: str | None = None  # section | derived | none
    sql: str = ""
    complete: bool | None = None
    refused: tuple[str, ...] | None = None  # a rollback job's plan only; None: not a rollback job's plan
    reasons: tuple[str, ...] = ()  # what the plan leaves out, in words

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            source=text_or_none(data.get("source")),
            sql=str(data.get("sql", "")),
            complete=None if data.get("complete") is None else bool(data["complete"]),
            refused=texts(data["refused"]) if "refused" in data else None,
            reasons=texts(data.get("reasons")),
        )

    def to_dict(self) -> dict[str, Any]:
        data = plain(self)
        if self.refused == ():
            data["refused"] = []
        return data


@dataclass(frozen=True)
class FactsStep:
    """A recover job's `facts:N` step (service.recovery.failure.Evidence.to_dict)."""

    facts: FailureFacts
    # The facts as journaled, all of them, for the JSON report (which carries what this record does not read).
    raw_facts: Data = field(compare=False, hash=False)
    run_started_at: datetime | None = None  # the failed run's history row
    statement_count: int | None = None
    rollback: RollbackPlan | None = None
    verification_errors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        facts = mapping(data.get("facts"))
        rollback = mapping(data.get("rollback"))
        return cls(
            facts=FailureFacts.from_dict(facts),
            raw_facts=dict(facts),
            run_started_at=_time(mapping(data.get("history_row")).get("started_at")),
            statement_count=mapping(data.get("analysis")).get("statement_count"),
            rollback=RollbackPlan.from_dict(rollback) if rollback else None,
            verification_errors=texts(mapping(data.get("verification")).get("errors")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "facts": {**self.raw_facts, **self.facts.to_dict()},
            "history_row": {"started_at": self.run_started_at.isoformat() if self.run_started_at else None},
            "analysis": {"statement_count": self.statement_count},
            "rollback": self.rollback.to_dict() if self.rollback else None,
            "verification": {"errors": list(self.verification_errors)},
        }


@dataclass(frozen=True)
class DecideStep:
    """A recover job's `decide:N` step (service.recovery.decide.Decision.to_dict)."""

    action: str | None = None
    verdict: str | None = None
    reasons: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    needs_approval: bool = False

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            text_or_none(data.get("action")), text_or_none(data.get("verdict")), texts(data.get("reasons")), texts(data.get("plan")),
            bool(data.get("needs_approval")),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class LockWaitStep:
    """A `wait_for_lock:N` step: who held Prisma's migration lock."""

    pid: int | None = None
    application_name: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        holder = mapping(data.get("lock_holder"))
        return cls(holder.get("pid"), text_or_none(holder.get("application_name")))

    def to_dict(self) -> dict[str, Any]:
        return {"lock_holder": plain(self)}


@dataclass(frozen=True)
class MigrationRead:
    """One migration of a `status` or `recheck` step."""

    name: str | None = None
    state: str | None = None
    edited: bool = False
    sqlstate: str | None = None
    message: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        failure = mapping(data.get("failure"))
        return cls(text_or_none(data.get("name")), text_or_none(data.get("state")), bool(data.get("edited")), failure.get("sqlstate"), failure.get("message"))

    def to_dict(self) -> dict[str, Any]:
        failure = {key: value for key, value in (("sqlstate", self.sqlstate), ("message", self.message)) if value is not None}
        return {"name": self.name, "state": self.state, "edited": self.edited, **({"failure": failure} if failure else {})}


@dataclass(frozen=True)
class StatusStep:
    """A `status` or `recheck` step: the history as read (service.prisma.status.HistoryStatus.to_dict)."""

    migrations: tuple[MigrationRead, ...] = ()
    to_deploy: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    up_to_date: bool | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            tuple(MigrationRead.from_dict(m) for m in data.get("migrations") or ()),
            texts(data.get("to_deploy")),
            texts(mapping(data.get("summary")).get("failed")),
            data.get("up_to_date"),
        )

    def to_dict(self) -> dict[str, Any]:
        data = {"migrations": [m.to_dict() for m in self.migrations], "to_deploy": list(self.to_deploy), "summary": {"failed": list(self.failed)}}
        return data | ({"up_to_date": self.up_to_date} if self.up_to_date is not None else {})

    def state_of(self, name: str) -> str | None:
        return next((m.state for m in self.migrations if m.name == name), None)


@dataclass(frozen=True)
class Finding:
    """One finding of a `lint` step (service.analysis.lint)."""

    migration: str = ""
    line: int | None = None
    column: int | None = None
    rule: str = ""
    severity: str = ""
    message: str = ""
    help: str = ""

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            str(data.get("migration", "")), data.get("line"), data.get("column"), str(data.get("rule", "")), str(data.get("severity", "")),
            str(data.get("message", "")), str(data.get("help", "")),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class LintStep:
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(tuple(Finding.from_dict(f) for f in data.get("findings") or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class DriftDifference:
    """One difference of a `drift` step (service.analysis.drift.DriftItem.to_dict)."""

    text: str = ""
    name: str = ""
    change: str = ""
    ignored_by: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(str(data.get("text", "")), str(data.get("name", "")), str(data.get("change", "")), text_or_none(data.get("ignored_by")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class DriftStep:
    """A `drift` step (service.jobs.drift): the target's schema against the replay of its applied history."""

    mode: str | None = None
    checked: bool = False
    error: str | None = None
    differences: tuple[DriftDifference, ...] = ()
    ignored: tuple[DriftDifference, ...] = ()
    applied: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    new: tuple[str, ...] | None = None  # a drift job's: what the previous drift job did not find
    previous_job: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            text_or_none(data.get("mode")), bool(data.get("checked")), text_or_none(data.get("error")),
            tuple(DriftDifference.from_dict(d) for d in data.get("differences") or ()),
            tuple(DriftDifference.from_dict(d) for d in data.get("ignored") or ()),
            texts(data.get("applied")), texts(data.get("schemas")), texts(data.get("notes")),
            texts(data["new"]) if isinstance(data.get("new"), list) else None, text_or_none(data.get("previous_job")),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"checked": self.checked, "differences": [d.to_dict() for d in self.differences], "ignored": [d.to_dict() for d in self.ignored]}
        data |= {key: value for key, value in (("mode", self.mode), ("error", self.error), ("previous_job", self.previous_job)) if value is not None}
        data |= {key: list(value) for key, value in (("applied", self.applied), ("schemas", self.schemas), ("notes", self.notes)) if value}
        return data | ({"new": list(self.new)} if self.new is not None else {})


@dataclass(frozen=True)
class RecoverStep:
    """A deploy's `recover` step: the recover job it started after a failed apply."""

    job: str | None = None
    because: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(text_or_none(data.get("job")), text_or_none(data.get("because")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class ApplyStep:
    """An `apply:NAME` step; `resolution` when a died worker's apply was settled afterwards."""

    resolution: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(text_or_none(data.get("resolution")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class CatalogWaitStep:
    """A `wait_for_catalog:N` step: a look at the sessions holding exclusive locks on the catalog."""

    message: str | None = None
    next_look_in_seconds: float | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(text_or_none(data.get("message")), data.get("next_look_in_seconds"))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class PostconditionStep:
    """A `postcondition` step: whether the effects of the settled migrations are in place."""

    migrations: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    basis: str | None = None  # replay | shapes

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(texts(data.get("migrations")), texts(data.get("problems")), text_or_none(data.get("basis")))

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class VerifyStep:
    """A rollback job's `verify` step: the rollback SQL on the shadow server."""

    verified: bool | None = None  # None: no shadow server
    problems: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(data.get("verified"), texts(data.get("problems")))

    def to_dict(self) -> dict[str, Any]:
        # Both always: a None verdict says there is no shadow server, which the rollback job acts on.
        return {"verified": self.verified, "problems": list(self.problems)}


@dataclass(frozen=True)
class HistoryWrite:
    """A step that wrote the migration history: `act:N:*` of a recover job, or a rollback job's `execute`."""

    marked_rolled_back: tuple[str, ...] | None = None  # mark_rolled_back
    marked_applied: bool | None = None  # mark_applied
    dropped: tuple[str, ...] = ()  # drop_invalid_indexes
    rolled_back_rows: tuple[str, ...] | None = None  # rollback_sql, execute
    effects_left: str | None = None  # rollback_sql, execute: the probe's state afterwards
    probed: bool = False
    note: str | None = None
    succeeded: bool | None = None  # deploy, deploy_pending; None: not a deploy
    applied: tuple[str, ...] = ()
    failed_migration: str | None = None
    failed_sqlstate: str | None = None
    failed_message: str | None = None
    failed: bool = False
    error: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        failure = mapping(data.get("failure"))
        probe = data.get("probe")
        return cls(
            marked_rolled_back=texts(data.get("marked_rolled_back")) if "marked_rolled_back" in data else None,
            marked_applied=bool(data["marked_applied"]) if "marked_applied" in data else None,
            dropped=texts(data.get("dropped")),
            rolled_back_rows=texts(data.get("rolled_back_rows")) if "rolled_back_rows" in data else None,
            effects_left=text_or_none(mapping(probe).get("state")),
            probed=probe is not None,
            note=text_or_none(data.get("note")),
            succeeded=bool(data["succeeded"]) if "succeeded" in data else None,
            applied=texts(data.get("applied")),
            failed_migration=text_or_none(failure.get("migration_name")),
            failed_sqlstate=text_or_none(failure.get("sqlstate")),
            failed_message=text_or_none(failure.get("message")),
            failed=bool(failure),
            error=text_or_none(data.get("error")),
        )

    def to_dict(self) -> dict[str, Any]:
        data = plain(self)
        for derived in ("effects_left", "probed", "failed_migration", "failed_sqlstate", "failed_message", "failed"):
            data.pop(derived, None)
        if self.marked_rolled_back == ():
            data["marked_rolled_back"] = []
        if self.rolled_back_rows == ():
            data["rolled_back_rows"] = []
        if self.probed:
            data["probe"] = plain_mapping({"state": self.effects_left})
        if self.failed:
            data["failure"] = plain_mapping({"migration_name": self.failed_migration, "sqlstate": self.failed_sqlstate, "message": self.failed_message})
        return data


@dataclass(frozen=True)
class RestoreFacts:
    """What a restore or cut-over says of itself, wherever it is journaled: the `plan` and `endpoint`
    steps (service.recovery.rds's plans and statuses), the job's params and its `restore` facts."""

    action: str | None = None  # restore | cutover
    source: str | None = None
    snapshot_id: str | None = None
    point_in_time: str | None = None
    restore_time: str | None = None
    latest_restorable_time: str | None = None
    new_identifier: str | None = None
    endpoint: str | None = None
    port: int | None = None
    summary: str | None = None
    plan: RestoreFacts | None = None  # the plan a `restore` fact or an endpoint carries inside it

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        inner = mapping(data.get("plan"))
        return cls(
            **{name: text_or_none(data.get(name)) for name in _RESTORE_KEYS if name != "port"},
            port=data["port"] if isinstance(data.get("port"), int) else None,
            plan=RestoreFacts.from_dict(inner) if inner else None,
        )

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _RESTORE_KEYS if getattr(self, name) is not None}
        return data | ({"plan": self.plan.to_dict()} if self.plan is not None else {})


_RESTORE_KEYS = (
    "action", "source", "snapshot_id", "point_in_time", "restore_time", "latest_restorable_time", "new_identifier", "endpoint", "port", "summary",
)  # fmt: skip


@dataclass(frozen=True)
class FailoverFacts:
    """What a failover says of itself: its `plan` step (service.recovery.rds.failover.FailoverPlan)."""

    source: str | None = None
    replica: str | None = None
    aurora: bool | None = None
    writer: str | None = None  # Aurora: the writer before the failover
    summary: str | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            text_or_none(data.get("source")), text_or_none(data.get("replica")), data["aurora"] if isinstance(data.get("aurora"), bool) else None,
            text_or_none(data.get("writer")), text_or_none(data.get("summary")), texts(data.get("notes")),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class AwsStep:
    """A restore's or cut-over's step that called AWS or read what AWS said: `start`, `start_instance`,
    `cutover:rename_*` (service.recovery.rds.resources.Started), `poll:N`, `endpoint`, `cutover:poll:N`,
    `cutover:done` (the statuses), `cutover:stuck`."""

    # What was started: restore_instance, restore_cluster, create_instance, rename_old_away, rename_new_in, promote_replica, failover_cluster.
    action: str | None = None
    identifier: str | None = None
    resumed: bool | None = None  # True: an earlier run had already made the call; None: not a call
    state: str | None = None
    status: str | None = None  # AWS's words, or the cut-over's description of where the names stand
    endpoint: str | None = None
    port: int | None = None
    reason: str | None = None
    replica: str | None = None  # a failover's `endpoint`: the replica that took over

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(
            text_or_none(data.get("action")), text_or_none(data.get("identifier")),
            data["resumed"] if isinstance(data.get("resumed"), bool) else None, text_or_none(data.get("state")),
            text_or_none(data.get("status")), text_or_none(data.get("endpoint")), data["port"] if isinstance(data.get("port"), int) else None,
            text_or_none(data.get("reason")), text_or_none(data.get("replica")),
        )  # fmt: skip

    @property
    def address(self) -> str | None:
        """host:port, as a client connects to it."""
        return f"{self.endpoint}:{self.port}" if self.endpoint and self.port else self.endpoint

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass(frozen=True)
class SnapshotStep:
    """A step of the `snapshot` family: the snapshot's identifier, at its top or one level in (AWS's statuses)."""

    snapshot_id: str | None = None

    @classmethod
    def from_dict(cls, data: Data) -> Self:
        return cls(_find_keys(data, ("snapshot_id", "identifier")))

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id}


def _find_keys(data: Any, keys: tuple[str, ...], depth: int = 2) -> str | None:
    if not isinstance(data, Mapping):
        return None
    for key in keys:
        if text_or_none(data.get(key)):
            return str(data[key])
    if depth > 0:
        for value in data.values():
            found = _find_keys(value, keys, depth - 1)
            if found:
                return found
    return None
