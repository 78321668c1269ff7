"""Decide what to do with a failed migration, from facts alone, and say why in plain words.

The table (first match wins) starts from DESIGN.md's and refines it where the facts say more:

| situation | action | verdict |
| --- | --- | --- |
| another session holds Prisma's lock | wait and re-check (a bounded number of times) | pending |
| the lock stayed held past the waits | nothing; say who holds it | blocked |
| the file is not in the bundle, or does not parse | mark rolled back only when the failure left no effects | blocked |
| every effect present, whole shapes confirmed by the shadow's replay, nothing unverifiable | mark applied (`resolve --applied`) | proceed |
| every effect present, but only by parsed shapes, or with data changes the catalog cannot confirm | propose marking applied | waiting for approval |
| no effects (or a transactional file), transient error, retries left | mark rolled back, re-apply | from the re-apply |
| no effects (or a transactional file), anything else | mark rolled back | blocked (fix forward) |

Every action that marks the migration rolled back first drops the INVALID indexes it left
(`drop_invalid_indexes`): a retry's `IF NOT EXISTS` would otherwise keep them, unusable.
| some effects, idempotent body, retries left | mark rolled back, re-apply (INVALID indexes dropped first) | from the re-apply |
| some effects, rollback SQL complete and verified, policy allows | run the rollback SQL, require no effects, mark rolled back; re-apply if transient with retries left | blocked, or from the re-apply |
| some effects, rollback SQL complete but not allowed to run alone | propose running it | waiting for approval |
| anything else | nothing; a plan for a person | blocked |

"Transactional" matters because PostgreSQL runs a file without transaction control as one
implicit transaction: when it failed, nothing it did survived, whatever the catalog shows (objects
present then were there before, and re-applying will meet them again).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from service.jobs.states import Verdict


class ErrorClass(StrEnum):
    TRANSIENT = "transient"  # a lock wait, a timeout, a lost connection: the same SQL may succeed now
    ALREADY_EXISTS = "already-exists"  # an object the migration creates is there already
    DATA = "data"  # the rows violate what the migration asks (a constraint, a cast)
    DEFINITION = "definition"  # the SQL itself is wrong for this schema: fix it forward
    UNKNOWN = "unknown"


_TRANSIENT = {"40001", "40P01", "55P03", "57014"}
_TRANSIENT_CLASSES = ("57P0", "08", "53")
_ALREADY_EXISTS = {"42P07", "42701", "42710", "42P06", "42723"}
_DEFINITION = {"42601", "42703", "42P01", "42883", "0A000", "25001", "55P04"}


def classify_sqlstate(sqlstate: str | None) -> ErrorClass:
    if not sqlstate:
        return ErrorClass.UNKNOWN
    if sqlstate in _TRANSIENT or sqlstate.startswith(_TRANSIENT_CLASSES):
        return ErrorClass.TRANSIENT
    if sqlstate in _ALREADY_EXISTS:
        return ErrorClass.ALREADY_EXISTS
    if sqlstate.startswith(("22", "23")):
        return ErrorClass.DATA
    if sqlstate in _DEFINITION or sqlstate.startswith("42"):
        return ErrorClass.DEFINITION
    return ErrorClass.UNKNOWN


class Action(StrEnum):
    WAIT_FOR_LOCK = "wait_for_lock"
    MARK_APPLIED = "mark_applied"
    RETRY = "retry"  # mark the failed rows rolled back, then deploy again
    MARK_ROLLED_BACK = "mark_rolled_back"
    RUN_ROLLBACK = "run_rollback_sql"  # then mark rolled back (and retry when the plan says so)
    NONE = "none"


SYNTAX_ERROR = "42601"
# How many times a job re-checks a lock held by another session before it gives up.
MAX_LOCK_WAITS = 10


@dataclass(frozen=True)
class FailureFacts:
    """Everything a decision rests on; recorded in the job as it is."""

    migration_name: str
    sqlstate: str | None
    message: str | None
    error_class: ErrorClass
    in_bundle: bool  # the bundle has the file, with the checksum the history row records
    parses: bool
    effects: str  # none | all | partial | unknown (from the live probe)
    fully_probed: bool  # no effect or data change the catalog cannot confirm
    invalid_indexes: tuple[str, ...]
    transactional: bool
    idempotent: bool
    rollback_source: str  # section | derived | none
    rollback_complete: bool
    rollback_verified: bool | None  # None: no shadow server to verify on
    attempts: int  # failed runs of this migration recorded in the history, this one included
    max_automatic_retries: int
    automatic_rollback: bool
    lock_holder: str | None = None
    lock_waits: int = 0
    # Effects compared with the shadow's replay of the history (whole definitions); False: with
    # the shapes the SQL states, as far as they go.
    shapes_verified: bool = False
    # This job was running the file when its worker died (its journal shows the apply started and
    # never ended, and the row has no logs): effects present now are its own script's, committed.
    interrupted_here: bool = False
    not_transactional_because: tuple[str, ...] = ()
    unguarded: tuple[str, ...] = ()
    rollback_gaps: tuple[str, ...] = ()
    # What the rollback SQL would do on the live target that only a person may allow: drop an
    # object this migration did not make, or data.
    rollback_needs_approval: tuple[str, ...] = ()
    # Objects of the migration's names, defined otherwise on the target (not its effects).
    other_shapes: tuple[str, ...] = ()

    @property
    def retries_left(self) -> int:
        return max(0, self.max_automatic_retries - (self.attempts - 1))

    @property
    def left_no_effects(self) -> bool:
        """Whether the failure certainly left nothing behind.

        PostgreSQL parses a whole simple-query string before running any of it, so a syntax
        error means nothing ran, whatever transaction control the file has.
        """
        return self.sqlstate == SYNTAX_ERROR or self.transactional or self.effects == "none"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_class"] = str(self.error_class)
        data["retries_left"] = self.retries_left
        return data


@dataclass(frozen=True)
class Decision:
    action: Action
    verdict: Verdict | None  # None: pending (waiting, or the re-apply decides)
    reasons: tuple[str, ...]
    # Steps a person can approve (`needs_approval`) or carry out; empty when nothing is proposed.
    plan: tuple[str, ...] = ()
    needs_approval: bool = False
    # For RUN_ROLLBACK: re-apply the migration after rolling it back.
    then_retry: bool = False
    drop_invalid_indexes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": str(self.action),
            "verdict": self.verdict.value if self.verdict else None,
            "reasons": list(self.reasons),
            "plan": list(self.plan),
            "needs_approval": self.needs_approval,
            "then_retry": self.then_retry,
            "drop_invalid_indexes": list(self.drop_invalid_indexes),
        }


def decide(facts: FailureFacts) -> Decision:
    name = facts.migration_name
    failure = f"{name} failed with {facts.sqlstate or 'no SQLSTATE'} ({facts.error_class}): {facts.message or 'no message'}"

    if facts.lock_holder:
        if facts.lock_waits < MAX_LOCK_WAITS:
            return Decision(Action.WAIT_FOR_LOCK, None, (f"another session holds Prisma's migration lock: {facts.lock_holder}; waiting for it to finish",))
        return Decision(
            Action.NONE,
            Verdict.BLOCKED,
            (f"another session kept Prisma's migration lock through {facts.lock_waits} checks: {facts.lock_holder}",),
            plan=("find out what that session is doing (a `prisma migrate deploy` still running?)", "post the deploy again once it has ended"),
        )

    if not facts.in_bundle or not facts.parses:
        why = (
            f"the bundle has no {name}/migration.sql with the checksum its history row records"
            if not facts.in_bundle
            else f"{name} does not parse, so its effects cannot be probed"
        )
        if facts.in_bundle and facts.sqlstate == SYNTAX_ERROR:
            return _mark_rolled_back(facts, failure, f"PostgreSQL rejected {name} before running any of it (a syntax error)")
        if facts.in_bundle and facts.left_no_effects:
            return _mark_rolled_back(facts, failure, why)
        return Decision(
            Action.NONE,
            Verdict.BLOCKED,
            (failure, why),
            plan=(f"compare the database with {name} by hand", f"then `prisma migrate resolve --rolled-back {name}` or `--applied {name}`"),
        )

    if facts.effects == "all":
        if facts.fully_probed and facts.shapes_verified:
            return Decision(
                Action.MARK_APPLIED,
                Verdict.PROCEED,
                (
                    failure,
                    f"every effect of {name} is present in the database as the shadow's replay defines it, so it is recorded as applied without running it again",
                ),
            )
        if facts.fully_probed and facts.interrupted_here:
            return Decision(
                Action.MARK_APPLIED,
                Verdict.PROCEED,
                (
                    failure,
                    f"this job was applying {name} when its worker stopped, and every effect is present: PostgreSQL committed the script, so it is recorded as applied",
                ),
            )
        why = (
            f"every effect of {name} is present by the shapes its SQL states, but without a replay on a shadow server their whole definitions are not confirmed"
            if facts.fully_probed
            else f"every checked effect of {name} is present, but the catalog cannot confirm all it does (data changes, or objects it cannot inspect)"
        )
        return Decision(
            Action.MARK_APPLIED,
            None,
            (failure, why),
            plan=(f"check by hand that what {name} does is in place", f"approve to record {name} as applied"),
            needs_approval=True,
        )

    if facts.left_no_effects:
        why = (
            f"PostgreSQL rejected {name} before running any of it (a syntax error)"
            if facts.sqlstate == SYNTAX_ERROR
            else f"{name} has no transaction control, so PostgreSQL undid the whole file when it failed"
            if facts.transactional
            else f"none of the effects of {name} is present"
        )
        if facts.error_class is ErrorClass.TRANSIENT and facts.retries_left > 0:
            return Decision(
                Action.RETRY,
                None,
                (failure, why, f"the error is transient; retry {facts.attempts} of {facts.max_automatic_retries}", *_invalid_index_reason(facts)),
                drop_invalid_indexes=facts.invalid_indexes,
            )
        return _mark_rolled_back(facts, failure, why)

    partial = f"{name} left some of its effects behind ({facts.effects})"
    if facts.invalid_indexes:
        partial += f"; INVALID indexes: {', '.join(facts.invalid_indexes)}"
    if facts.idempotent and facts.retries_left > 0:
        reasons = (failure, partial, f"every statement of {name} is guarded, so running it again completes it", *_invalid_index_reason(facts))
        return Decision(Action.RETRY, None, reasons, drop_invalid_indexes=facts.invalid_indexes)

    not_idempotent = f"{name} is not idempotent: " + ("; ".join(facts.unguarded[:3]) or "some statements are unguarded")
    if facts.idempotent:
        not_idempotent = f"{name} is idempotent, but no automatic retries are left ({facts.attempts} failed runs)"
    if facts.rollback_complete:
        retry = facts.error_class is ErrorClass.TRANSIENT and facts.retries_left > 0
        plan = (
            f"run the rollback SQL of {name} ({facts.rollback_source}) in one transaction under Prisma's lock",
            f"require that none of the effects of {name} remains, else undo the rollback",
            f"record {name} as rolled back",
        ) + ((f"apply {name} again",) if retry else ())
        if facts.rollback_needs_approval:
            plan = tuple(f"check: it {note}" for note in facts.rollback_needs_approval) + plan
        if facts.rollback_verified and facts.automatic_rollback and not facts.rollback_needs_approval:
            return Decision(
                Action.RUN_ROLLBACK,
                None if retry else Verdict.BLOCKED,
                (failure, partial, not_idempotent, f"its rollback SQL ({facts.rollback_source}) is complete and was verified on the shadow server"),
                plan=plan,
                then_retry=retry,
                drop_invalid_indexes=facts.invalid_indexes,
            )
        why_not = (
            "the target's policy does not allow automatic rollbacks"
            if facts.rollback_verified
            else "its rollback SQL did not pass verification on the shadow server"
            if facts.rollback_verified is False
            else "no shadow server is configured to verify its rollback SQL"
        )
        if facts.rollback_needs_approval:
            why_not = (
                "it "
                + "; it ".join(facts.rollback_needs_approval)
                + ", which only a person may allow"
                + (f" ({why_not})" if not (facts.rollback_verified and facts.automatic_rollback) else "")
            )
        return Decision(
            Action.RUN_ROLLBACK,
            None,
            (
                failure,
                partial,
                not_idempotent,
                f"its rollback SQL ({facts.rollback_source}) is complete{' and was verified on the shadow server' if facts.rollback_verified else ''}, but {why_not}",
            ),
            plan=plan,
            needs_approval=True,
            then_retry=retry,
            drop_invalid_indexes=facts.invalid_indexes,
        )
    gaps = "; ".join(facts.rollback_gaps[:3]) or "there is no rollback SQL"
    return Decision(
        Action.NONE,
        Verdict.BLOCKED,
        (failure, partial, not_idempotent, f"no complete rollback: {gaps}"),
        plan=(
            f"undo what {name} left behind by hand, or finish it by hand",
            f"then `prisma migrate resolve --rolled-back {name}` (undone) or `--applied {name}` (finished)",
            "or restore the database (a restore job) if the damage is wider",
        ),
    )


def _mark_rolled_back(facts: FailureFacts, failure: str, why: str) -> Decision:
    reasons = [failure, why, *(f"found on the target: {note}" for note in facts.other_shapes)]
    if facts.error_class is ErrorClass.TRANSIENT:
        reasons.append(f"no automatic retries are left ({facts.attempts} failed runs, at most {facts.max_automatic_retries} retries)")
    plan = {
        ErrorClass.ALREADY_EXISTS: f"make {facts.migration_name} idempotent (IF NOT EXISTS) or remove the objects it meets, then deploy again",
        ErrorClass.DATA: f"fix the rows that violate {facts.migration_name}, or change it to cope with them, then deploy again",
        ErrorClass.DEFINITION: f"fix {facts.migration_name} (or add a new migration that fixes forward), then deploy again",
    }.get(facts.error_class, f"find out why {facts.migration_name} failed, fix it, then deploy again")
    if facts.error_class is ErrorClass.ALREADY_EXISTS and facts.other_shapes:
        # IF NOT EXISTS would skip the object of the other shape and leave the wrong one in place.
        plan = (
            f"the objects {facts.migration_name} meets are not the ones it creates: rename or drop them if they are unused, "
            f"or give {facts.migration_name}'s objects other names; IF NOT EXISTS would keep the wrong ones; then deploy again"
        )
    reasons.append(f"{facts.migration_name} is recorded as rolled back, so the next deploy applies it again")
    reasons.extend(_invalid_index_reason(facts))
    return Decision(Action.MARK_ROLLED_BACK, Verdict.BLOCKED, tuple(reasons), plan=(plan,), drop_invalid_indexes=facts.invalid_indexes)


def _invalid_index_reason(facts: FailureFacts) -> tuple[str, ...]:
    if not facts.invalid_indexes:
        return ()
    return (f"the INVALID indexes {', '.join(facts.invalid_indexes)} are dropped first: IF NOT EXISTS would keep them invalid, and PostgreSQL never uses them",)
