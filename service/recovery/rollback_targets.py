"""The live check before rollback SQL runs: what it drops or changes, whose those objects are, and
what data they hold.

A shadow's replay of the history cannot see objects that exist only on the target, so verification
there cannot protect them. Before any rollback SQL runs (a derived inverse or a section a person
wrote), each object it drops, alters, renames or writes rows to is looked up on the target:

- it must be one this migration made (to drop it) or made or changed (to change it back); an object
  that is not there is fine, the statement changes nothing;
- a dropped table with rows, or a dropped column with non-null values, loses data: a person approves
  that, whatever the policy, seeing the estimated rows;
- a CASCADE drop takes whatever depends on the object too, which nothing here accounts for.

Anything else makes the plan wait for a person, naming the object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import psycopg
from pglast.enums import DropBehavior

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import Effect
from service.analysis.parsing import StatementNode, iter_nodes
from service.recovery.live_objects import HeldData, ObjectRef, held_data, object_exists, owning_table
from service.recovery.ownership import Ownership

_VERBS = {
    "drop": "drop",
    "alter": "change",
    "rename": "rename",
    "replace": "replace",
    "truncate": "empty",
    "delete": "delete rows of",
    "update": "update rows of",
    "insert": "insert rows into",
    "merge": "merge rows into",
}
# Kinds whose guarded CREATE is OR REPLACE: it replaces an object of that name if there is one.
_REPLACEABLE = ("function", "procedure", "view", "trigger")


@dataclass(frozen=True)
class RollbackTarget:
    """One object the rollback SQL drops or changes, as the target's catalog shows it now."""

    action: str  # drop | alter | rename | replace | truncate | delete | update | insert | merge
    ref: ObjectRef | None  # None: the SQL does not say which object (dynamic SQL, an unknown statement)
    line: int  # in the rollback SQL
    exists: bool | None  # None: the catalog cannot tell
    owned: bool  # made (for a drop) or made or changed (otherwise) by this migration
    why: str
    data: HeldData | None = None
    cascade: bool = False
    statement: str = ""

    @property
    def object(self) -> str:
        return str(self.ref) if self.ref else f"`{self.statement}`"

    @property
    def needs_approval(self) -> str | None:
        """What a person must accept before this runs, in words; None when it is this migration's own work."""
        if self.ref is None:
            return f"would run {self.object}, which does not say what it changes"
        holds_data = self.data is not None and self.data.holds_data
        if self.exists is False or (self.owned and not self.cascade and not holds_data):
            return None
        words = f"would {_VERBS.get(self.action, self.action)} {self.ref}"
        if not self.owned:
            words += f", which {_which(self.why)}"
        if self.cascade:
            words += "; with CASCADE it also drops whatever depends on it"
        if holds_data:
            words += f"; {self.data} would be lost"
        return words

    def to_dict(self) -> dict[str, Any]:  # `object` is a field here, not the builtin
        return {
            "action": self.action,
            "object": self.object,
            "line": self.line,
            "exists": self.exists,
            "owned": self.owned,
            "why": self.why,
            "data": self.data.to_dict() if self.data else None,
            "cascade": self.cascade,
            "needs_approval": self.needs_approval,
        }


def _which(why: str) -> str:
    """`existed before …` reads on after "which"; other reasons are quoted as they are."""
    return why if why.startswith(("existed", "may have", "this migration")) else f"is not this migration's work: {why}"


@dataclass(frozen=True)
class RollbackTargets:
    targets: tuple[RollbackTarget, ...]

    @property
    def needs_approval(self) -> tuple[str, ...]:
        return tuple(note for target in self.targets if (note := target.needs_approval))

    @property
    def approval_objects(self) -> tuple[str, ...]:
        """The objects a person must see named before approving."""
        return tuple(target.object for target in self.targets if target.needs_approval)

    def to_dict(self) -> list[dict[str, object]]:
        return [target.to_dict() for target in self.targets]


def check_rollback_targets(conn: psycopg.Connection, schema: str, rollback_sql: str, ownership: Ownership) -> RollbackTargets:
    """Every object `rollback_sql` drops or changes, checked on the target `conn` reaches."""
    if not rollback_sql.strip():
        return RollbackTargets(())
    facts = analyze_migration(rollback_sql)
    statements = facts.parsed.statements if facts.parsed else ()
    cascading = {index for index, statement in enumerate(statements) if _cascades(statement.node)}
    # A rename earlier in the rollback: later statements name the object by its new name.
    renamed: dict[ObjectRef, ObjectRef] = {}
    targets: list[RollbackTarget] = []

    def text_of(index: int) -> str:
        return statements[index].text.splitlines()[0][:120] if index < len(statements) and statements[index].text else ""

    for effect in facts.effects:
        action = _action(effect)
        if action is None:
            continue
        ref = ObjectRef.of(effect.kind, effect.name, effect.schema, effect.parent, schema)
        if ref is None:
            targets.append(
                RollbackTarget(action, None, effect.line, None, False, "its target cannot be told from the SQL", statement=text_of(effect.statement))
            )
            continue
        live = _as_now_named(ref, renamed)
        if action == "rename" and effect.detail:
            renamed[replace(ref, name=effect.detail)] = live
        targets.append(_check(conn, ownership, action, live, effect.line, effect.statement in cascading, text_of(effect.statement)))
    for change in facts.data_changes:
        ref = _as_now_named(ObjectRef("table", change.schema or schema, change.table), renamed)
        targets.append(_check(conn, ownership, change.kind, ref, change.line, False, text_of(change.statement)))
    return RollbackTargets(tuple(targets))


def _action(effect: Effect) -> str | None:
    if effect.action in ("drop", "alter", "rename"):
        return effect.action
    if effect.action == "create" and effect.guarded and effect.kind in _REPLACEABLE:
        return "replace"
    return None  # creating what the migration dropped changes nothing that exists


def _as_now_named(ref: ObjectRef, renamed: dict[ObjectRef, ObjectRef]) -> ObjectRef:
    ref = renamed.get(ref, ref)
    table = ref.table
    if table is not None and table in renamed:
        ref = replace(ref, parent=renamed[table].name)
    return ref


def _cascades(node: StatementNode) -> bool:
    return any(getattr(found, "behavior", None) == DropBehavior.DROP_CASCADE for found in iter_nodes(node))


def _check(conn: psycopg.Connection, ownership: Ownership, action: str, ref: ObjectRef, line: int, cascade: bool, statement: str) -> RollbackTarget:
    exists = object_exists(conn, ref)
    table = owning_table(conn, ref) if exists and ref.table is None and ref.kind in ("index", "sequence") else None
    if action in ("drop", "truncate"):
        owned, why = ownership.made(ref, table)
    else:
        owned, why = ownership.touched(ref, table)
    if exists is False:
        why = f"{why}; it is not there, so the statement changes nothing"
    data = held_data(conn, ref) if exists and action in ("drop", "truncate") else None
    return RollbackTarget(action, ref, line, exists, owned, why, data, cascade and action == "drop", statement)
