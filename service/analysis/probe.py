"""The effect probe: which of a migration's effects the live catalog shows now.

Each effect becomes one or more expectations about the catalog once the migration has run:
a created object exists, a dropped one does not, a renamed one is gone under its old name and
there under its new one, an altered column has the new nullability, type or default. Unqualified
names resolve in the target's Prisma schema, as Prisma runs migrations with that search_path;
names compare exactly as the parser gives them (quoted identifiers keep their case). A created
object is also compared with the statement that creates it, inside a DO block too, as far as its
SQL states its shape (`parsed_shapes`): an object of the name but another shape is `other shape`.

Later statements of the same migration change what an earlier effect should look like, so the
probe replays them first: `CREATE TABLE a; ALTER TABLE a RENAME TO b` expects `b`, a column added
to a table the migration renames is looked for on the new name, and an object created and then
dropped again (or dropped and re-created) leaves nothing to tell, so that check is unknown.

An index left INVALID by a failed `CREATE INDEX CONCURRENTLY` is never counted as done: it is
reported with status `invalid`, because a retry fails on its name until it is dropped.

The overall state covers the effects that could be checked:
- `none`: no checked effect is present, as if the migration never ran;
- `all`: every checked effect is present;
- `partial`: some are, some are not;
- `unknown`: nothing could be checked: only data statements, or effects the catalog cannot show.
Effects that cannot be checked (unnamed indexes and constraints, `ALTER … OWNER`, …) and data
statements (INSERT, UPDATE, …) do not move the state; they are listed, and `fully_probed` is
false. So schema effects all present plus an UPDATE is `all` with the UPDATE unverified: the
caller decides whether the data change matters (in a transactional migration it ran with them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg import sql
from psycopg.abc import Params

from service.analysis.facts.records import DataChange, Effect, MigrationFacts
from service.analysis.parsed_shapes import (
    SequenceOptions,
    column_shape,
    constraint_matches,
    creating_statement,
    index_matches,
    routine_body_matches,
    sequence_differences,
)
from service.analysis.parsing import deparse, names_of
from service.prisma.database import DEFAULT_SCHEMA


class EffectState(StrEnum):
    NONE = "none"  # no checked effect is present
    ALL = "all"  # every checked effect is present
    PARTIAL = "partial"  # some checked effects are present, some are not
    UNKNOWN = "unknown"  # no effect could be checked


class CheckStatus(StrEnum):
    DONE = "done"  # the catalog shows the effect
    NOT_DONE = "not done"  # the catalog shows the state before the effect
    INVALID = "invalid"  # an INVALID index, left by a failed CREATE INDEX CONCURRENTLY
    OTHER_SHAPE = "other shape"  # an object of the name, defined otherwise: not this effect
    UNKNOWN = "unknown"  # the catalog cannot tell


@dataclass(frozen=True)
class EffectCheck:
    """What the catalog says about one effect. `present` is None when it cannot tell."""

    effect: Effect
    status: CheckStatus
    note: str = ""

    @property
    def present(self) -> bool | None:
        if self.status is CheckStatus.UNKNOWN:
            return None
        return self.status is CheckStatus.DONE

    def to_dict(self) -> dict[str, object]:
        return {
            "effect": self.effect.to_dict(),
            "present": self.present,
            "status": str(self.status),
            "note": self.note,
        }


@dataclass(frozen=True)
class EffectProbe:
    """The migration's effects checked against the live catalog, and the overall state."""

    state: EffectState
    schema: str
    checks: tuple[EffectCheck, ...]
    unverified_data_changes: tuple[DataChange, ...] = ()

    @property
    def invalid_indexes(self) -> tuple[str, ...]:
        """Schema-qualified names of the INVALID indexes the migration was creating."""
        return tuple(f"{check.effect.schema or self.schema}.{check.effect.name}" for check in self.checks if check.status is CheckStatus.INVALID)

    @property
    def unknown(self) -> tuple[EffectCheck, ...]:
        return tuple(check for check in self.checks if check.status is CheckStatus.UNKNOWN)

    @property
    def fully_probed(self) -> bool:
        """Whether the state covers everything the migration does."""
        return not self.unknown and not self.unverified_data_changes

    def to_dict(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "schema": self.schema,
            "fully_probed": self.fully_probed,
            "invalid_indexes": list(self.invalid_indexes),
            "checks": [check.to_dict() for check in self.checks],
            "unverified_data_changes": [change.to_dict() for change in self.unverified_data_changes],
        }


def probe_effects(conn: psycopg.Connection, facts: MigrationFacts, schema: str = DEFAULT_SCHEMA) -> EffectProbe:
    """Check every effect of a migration in the live catalog of `conn`; see the module docstring."""
    catalog = _Catalog(conn, schema)
    planned = _plan(facts, schema)
    checks = tuple(_check(catalog, each) for each in planned)
    return EffectProbe(_overall_state(checks), schema, checks, tuple(facts.data_changes))


def _overall_state(checks: Iterable[EffectCheck]) -> EffectState:
    known = [check.present for check in checks if check.present is not None]
    if not known:
        return EffectState.UNKNOWN
    if all(known):
        return EffectState.ALL
    if not any(known):
        return EffectState.NONE
    return EffectState.PARTIAL


# Kinds whose objects live in pg_class, and the relkinds each accepts.
_RELKINDS = {
    "table": ("r", "p", "f"),
    "view": ("v",),
    "materialized_view": ("m",),
    "sequence": ("S",),
    "index": ("i", "I"),
}
_RELKIND_NAMES = {
    "r": "table",
    "p": "partitioned table",
    "f": "foreign table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "i": "index",
    "I": "partitioned index",
    "c": "composite type",
}
# Kinds that belong to a table: the table is part of their identity.
_TABLE_CHILDREN = ("column", "constraint", "trigger", "policy")
_ROUTINE_KINDS = {"function": ("f", "w"), "procedure": ("p",)}
_KIND_ALIASES = {"matview": "materialized_view"}
_CHECKABLE_KINDS = {
    *_RELKINDS,
    *_TABLE_CHILDREN,
    *_ROUTINE_KINDS,
    "type",
    "domain",
    "enum_value",
    "extension",
    "schema",
}
_UNSCHEMED_KINDS = ("extension", "schema")


@dataclass(frozen=True)
class _Ref:
    """One catalog object, with its schema resolved (None for schemas and extensions)."""

    kind: str
    name: str
    schema: str | None
    parent: str | None = None  # the table of a column, constraint, trigger, policy or index; an enum label's type

    @property
    def family(self) -> str:
        # Relations share one namespace (ALTER TABLE renames a view too); a domain is a type.
        if self.kind in _RELKINDS:
            return "relation"
        if self.kind in _ROUTINE_KINDS:
            return "routine"
        if self.kind == "domain":
            return "type"
        return self.kind

    def same_object(self, other: _Ref) -> bool:
        owned = self.kind in _TABLE_CHILDREN or self.kind == "enum_value"
        return self.family == other.family and self.name == other.name and self.schema == other.schema and (not owned or self.parent == other.parent)

    def belongs_to(self, owner: _Ref) -> bool:
        """Whether dropping or renaming `owner` takes this object with it."""
        if owner.kind == "schema":
            return self.schema == owner.name and self.kind not in _UNSCHEMED_KINDS
        if owner.family == "relation":
            return (self.kind in _TABLE_CHILDREN or self.kind == "index") and self.schema == owner.schema and self.parent == owner.name
        if owner.family == "type":
            return self.kind == "enum_value" and self.schema == owner.schema and self.parent == owner.name
        return False

    def moved_with(self, old: _Ref, new: _Ref) -> _Ref:
        """This object after `old` (itself or its owner) was renamed to `new`."""
        if self.same_object(old):
            return replace(self, name=new.name)
        if old.kind == "schema":
            return replace(self, schema=new.name)
        return replace(self, parent=new.name)

    def describe(self) -> str:
        label = self.kind.replace("_", " ")
        if self.kind == "enum_value":
            return f"enum value '{self.name}' of type {self.schema}.{self.parent}"
        if self.kind in _TABLE_CHILDREN:
            return f"{label} {self.name} on {self.schema}.{self.parent}"
        if self.schema is None:
            return f"{label} {self.name}"
        return f"{label} {self.schema}.{self.name}"


@dataclass(frozen=True)
class _Expectation:
    """What the catalog shows once the migration has run: the object exists or not, or has a value."""

    ref: _Ref
    exists: bool
    attribute: str | None = None  # not_null | type | default | validated | row_security | force_row_security
    value: object = None
    labels: tuple[str, ...] = ()  # an enum type's labels
    arguments: str | None = None  # a routine's argument types, as "(integer, text[])"
    # Where the object was before later renames moved it, oldest first: if the migration stopped
    # before a rename, the effect is done under the earlier name.
    earlier_refs: tuple[_Ref, ...] = ()
    node: ast.Node | None = field(default=None, compare=False)  # the creating statement, for its shape
    # Part of the shape the creating statement states: a mismatch is another object of the name.
    shape: bool = False


@dataclass
class _Planned:
    effect: Effect
    expectations: list[_Expectation]
    notes: list[str] = field(default_factory=list)
    # Why the catalog cannot tell, for effects that give no expectation at all.
    uncheckable: str | None = None
    ref: _Ref | None = None


_COLUMN_ATTRIBUTES = {"SET NOT NULL": ("not_null", True), "DROP NOT NULL": ("not_null", False), "DROP DEFAULT": ("default", None)}
_TABLE_ATTRIBUTES = {
    "EnableRowSecurity": ("row_security", True),
    "DisableRowSecurity": ("row_security", False),
    "ForceRowSecurity": ("force_row_security", True),
    "NoForceRowSecurity": ("force_row_security", False),
}


def _plan(facts: MigrationFacts, schema: str) -> list[_Planned]:
    """Each effect's expectations, with what later effects of the migration do to them applied."""
    planned: list[_Planned] = []
    for effect in facts.effects:
        # The statement that creates an object tells its shape, beyond its name.
        current = _expectations_of(effect, schema, creating_statement(facts, effect) if effect.action == "create" else None)
        for earlier in planned:
            _account_for_later(earlier, current)
        planned.append(current)
    return planned


def _expectations_of(effect: Effect, schema: str, node: ast.Node | None = None) -> _Planned:
    kind = _KIND_ALIASES.get(effect.kind, effect.kind)
    if kind not in _CHECKABLE_KINDS:
        what = effect.name if kind == "other" and effect.name else kind.replace("_", " ")
        return _Planned(effect, [], uncheckable=f"{what} cannot be checked in the catalog")
    if not effect.name:
        return _Planned(effect, [], uncheckable=f"the {kind.replace('_', ' ')} has no name in the SQL (PostgreSQL chose it)")
    ref = _Ref(kind, effect.name, None if kind in _UNSCHEMED_KINDS else effect.schema or schema, effect.parent)
    if effect.action == "create":
        arguments = effect.detail if kind in _ROUTINE_KINDS else None
        shape = column_shape(node, ref.name) if kind == "column" else None
        stated = [_Expectation(ref, True, attribute, value, shape=True) for attribute, value in (shape.stated() if shape else ())]
        return _Planned(effect, [_Expectation(ref, True, labels=effect.labels, arguments=arguments, node=node), *stated])
    if effect.action == "drop":
        return _Planned(effect, [_Expectation(ref, False)])
    if effect.action == "rename":
        if not effect.detail:
            return _Planned(effect, [], uncheckable="the new name is not in the SQL")
        return _Planned(effect, [_Expectation(ref, False), _Expectation(replace(ref, name=effect.detail), True)])
    detail = effect.detail or ""
    if kind == "column":
        if detail in _COLUMN_ATTRIBUTES:
            attribute, value = _COLUMN_ATTRIBUTES[detail]
            return _Planned(effect, [_Expectation(ref, True, attribute, value)])
        if detail.startswith("TYPE "):
            return _Planned(effect, [_Expectation(ref, True, "type", detail.removeprefix("TYPE "))])
        if detail.startswith("SET DEFAULT "):
            return _Planned(effect, [_Expectation(ref, True, "default", detail.removeprefix("SET DEFAULT "))])
    if kind == "constraint" and detail == "VALIDATE":
        return _Planned(effect, [_Expectation(ref, True, "validated", True)])
    if kind == "table" and detail in _TABLE_ATTRIBUTES:
        attribute, value = _TABLE_ATTRIBUTES[detail]
        return _Planned(effect, [_Expectation(ref, True, attribute, value)])
    change = f"ALTER {kind.replace('_', ' ').upper()} {detail}".rstrip()
    return _Planned(effect, [], uncheckable=f"{change} cannot be checked in the catalog", ref=ref)


def _account_for_later(earlier: _Planned, current: _Planned) -> None:
    """Adjust an earlier effect's expectations for a later effect of the same migration."""
    later, later_expectations = current.effect, current.expectations
    if later.action == "alter" and current.ref is not None and not later_expectations:
        # A change the catalog cannot show (ALTER SEQUENCE …): the created shape is no longer known.
        changed = current.ref
        if any(e.ref.same_object(changed) and (e.shape or e.node is not None) for e in earlier.expectations):
            earlier.expectations = [
                replace(e, node=None) if e.ref.same_object(changed) else e for e in earlier.expectations if not (e.shape and e.ref.same_object(changed))
            ]
            earlier.notes.append("changed later in this migration in a way the catalog cannot show, so only its name is compared")
        return
    if later.action == "rename" and len(later_expectations) == 2:
        old, new = later_expectations[0].ref, later_expectations[1].ref
        moved = []
        for expectation in earlier.expectations:
            # What the renamed object holds moves with it; its old name stays absent.
            if (expectation.exists and expectation.ref.same_object(old)) or expectation.ref.belongs_to(old):
                expectation = replace(
                    expectation,
                    ref=expectation.ref.moved_with(old, new),
                    earlier_refs=(*expectation.earlier_refs, expectation.ref),
                )
            moved.append(expectation)
        if old.kind == "enum_value":
            moved = [_with_label_renamed(expectation, old, new) for expectation in moved]
        earlier.expectations = moved
        _drop_matching(earlier, lambda e: not e.exists and e.ref.same_object(new), "its name is taken again later in this migration")
        return
    for made in later_expectations:
        matches, note = _superseded_by(made)
        _drop_matching(earlier, matches, note)


def _superseded_by(made: _Expectation) -> tuple[Callable[[_Expectation], bool], str]:
    """Which earlier expectations a later one makes moot, and the note saying why."""
    if made.attribute is not None:
        return (lambda e: e.attribute == made.attribute and e.ref.same_object(made.ref)), "changed again later in this migration"
    if made.exists:
        return (lambda e: not e.exists and e.ref.same_object(made.ref)), "created again later in this migration"
    # Whatever belonged to the dropped object is gone either way, so its checks tell nothing.
    return (
        (lambda e: (e.exists and e.ref.same_object(made.ref)) or e.ref.belongs_to(made.ref)),
        "dropped later in this migration (itself or what holds it)",
    )


def _with_label_renamed(expectation: _Expectation, old: _Ref, new: _Ref) -> _Expectation:
    """An enum type's expected labels after `ALTER TYPE … RENAME VALUE` later in the migration."""
    enum_type = _Ref("type", old.parent or "", old.schema)
    if expectation.ref.same_object(enum_type) and old.name in expectation.labels:
        labels = tuple(new.name if label == old.name else label for label in expectation.labels)
        return replace(expectation, labels=labels)
    return expectation


def _drop_matching(planned: _Planned, matches: Callable[[_Expectation], bool], note: str) -> None:
    kept = [expectation for expectation in planned.expectations if not matches(expectation)]
    if len(kept) != len(planned.expectations):
        planned.expectations = kept
        if note not in planned.notes:
            planned.notes.append(note)


@dataclass(frozen=True)
class _Finding:
    met: bool | None
    note: str = ""
    invalid: bool = False
    other_shape: bool = False


def _check(catalog: _Catalog, planned: _Planned) -> EffectCheck:
    effect = planned.effect
    if planned.uncheckable:
        return EffectCheck(effect, CheckStatus.UNKNOWN, planned.uncheckable)
    if not planned.expectations:
        return EffectCheck(effect, CheckStatus.UNKNOWN, "; ".join(planned.notes) + ", so the catalog cannot tell")
    findings = [_evaluate(catalog, expectation) for expectation in planned.expectations]
    notes = [finding.note for finding in findings if finding.note] + planned.notes
    if effect.guarded and effect.action == "create" and all(finding.met for finding in findings):
        notes.append("guarded by IF NOT EXISTS or OR REPLACE: it may have existed before")
    if any(finding.invalid for finding in findings):
        status = CheckStatus.INVALID
    elif any(finding.other_shape for finding in findings):
        status = CheckStatus.OTHER_SHAPE
    elif any(finding.met is False for finding in findings):
        status = CheckStatus.NOT_DONE
    elif any(finding.met is None for finding in findings):
        status = CheckStatus.UNKNOWN
    else:
        status = CheckStatus.DONE
    return EffectCheck(effect, status, "; ".join(notes))


def _evaluate(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    """The expectation checked where the whole migration puts the object, else where it was before
    a later rename that may not have run."""
    finding = _evaluate_at(catalog, expectation)
    if finding.met:
        return finding
    for earlier in reversed(expectation.earlier_refs):
        before_rename = _evaluate_at(catalog, replace(expectation, ref=earlier))
        if before_rename.met:
            return _Finding(True, f"checked as {earlier.describe()}: a later rename in this migration has not run")
        if finding.met is None and before_rename.met is False:
            finding = before_rename
    return finding


def _evaluate_at(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    if ref.kind == "index":
        return _evaluate_index(catalog, expectation)
    if ref.kind in _RELKINDS:
        return _evaluate_relation(catalog, expectation)
    if ref.kind == "column":
        return _evaluate_column(catalog, expectation)
    if ref.kind in ("constraint", "trigger", "policy"):
        return _evaluate_table_child(catalog, expectation)
    if ref.kind in ("type", "domain"):
        return _evaluate_type(catalog, expectation)
    if ref.kind == "enum_value":
        return _evaluate_enum_value(catalog, expectation)
    if ref.kind in _ROUTINE_KINDS:
        return _evaluate_routine(catalog, expectation)
    exists = catalog.extension_exists(ref.name) if ref.kind == "extension" else catalog.schema_exists(ref.name)
    return _existence(expectation, exists)


def _existence(expectation: _Expectation, exists: bool, note: str = "") -> _Finding:
    if exists == expectation.exists:
        return _Finding(True)
    where = "exists" if exists else "does not exist"
    return _Finding(False, note or f"{expectation.ref.describe()} {where}")


def _evaluate_relation(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    relkind = catalog.relkind(ref.schema, ref.name)
    if relkind is not None and relkind not in _RELKINDS[ref.kind]:
        other = f"{ref.schema}.{ref.name} is a {_RELKIND_NAMES.get(relkind, relkind)}, not a {ref.kind.replace('_', ' ')}"
        return _Finding(not expectation.exists, other)
    if relkind == "S" and expectation.exists and expectation.attribute is None:
        differences = sequence_differences(expectation.node, catalog.sequence(ref.schema, ref.name))
        if differences:
            return _Finding(False, f"{ref.describe()} exists but is not the sequence the migration creates: {'; '.join(differences)}", other_shape=True)
    if expectation.attribute is not None and relkind is not None:
        security = catalog.row_security(ref.schema, ref.name)
        actual = security[0] if expectation.attribute == "row_security" else security[1]
        if actual == expectation.value:
            return _Finding(True)
        return _Finding(False, f"{expectation.attribute.replace('_', ' ')} of {ref.describe()} is {'on' if actual else 'off'}")
    return _existence(expectation, relkind is not None)


def _evaluate_index(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    index = catalog.index(ref.schema, ref.name)
    if index is None:
        return _existence(expectation, False)
    usable, table, definition = index
    if not expectation.exists:
        if not usable:
            # A DROP INDEX CONCURRENTLY that failed half way: the index stays, INVALID.
            return _Finding(False, f"{ref.describe()} exists (INVALID: a concurrent drop stopped half way); dropping it finishes the drop", invalid=True)
        return _Finding(False, f"{ref.describe()} exists")
    if ref.parent is not None and table != ref.parent:
        return _Finding(False, f"{ref.describe()} exists on table {table}, not on {ref.parent}", other_shape=True)
    matches = index_matches(expectation.node, definition)
    if matches is False:
        return _Finding(False, f"{ref.describe()} exists but is not the index the migration creates: {definition}", other_shape=True)
    if not usable:
        return _Finding(
            False,
            f"{ref.describe()} is INVALID or not ready (left by a failed CREATE INDEX CONCURRENTLY); drop it before the migration can be retried",
            invalid=True,
        )
    if matches is None:
        return _Finding(True, f"{ref.describe()} compared by name and table only (expressions, a predicate or operator classes): {definition}")
    return _Finding(True)


def _missing_table(catalog: _Catalog, expectation: _Expectation) -> _Finding | None:
    """The finding when a table child's table is gone; None when the table exists."""
    ref = expectation.ref
    if catalog.relkind(ref.schema, ref.parent) is not None:
        return None
    missing = f"table {ref.schema}.{ref.parent} does not exist"
    if expectation.exists and expectation.attribute is None:
        return _Finding(False, missing)
    return _Finding(None, f"{missing}, so {ref.describe()} cannot be checked")


def _evaluate_column(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    column = catalog.column(ref.schema, ref.parent, ref.name)
    if column is None:
        if expectation.shape:
            return _Finding(None)  # whether the column exists is its own expectation
        missing = _missing_table(catalog, expectation)
        if missing is not None:
            return missing
        if expectation.attribute is not None:
            return _Finding(None, f"{ref.describe()} does not exist, so its {expectation.attribute.replace('_', ' ')} cannot be checked")
        return _existence(expectation, False)
    if not expectation.exists:
        return _existence(expectation, True)
    if expectation.attribute == "not_null":
        nullability = f"{ref.describe()} is {'NOT NULL' if column.not_null else 'nullable'}"
        finding = _Finding(column.not_null == expectation.value, "" if column.not_null == expectation.value else nullability)
    elif expectation.attribute == "type":
        finding = _compare_column_type(catalog, ref, column, str(expectation.value))
    elif expectation.attribute == "default":
        finding = _compare_default(ref, column.default, expectation.value)
    else:
        return _Finding(True)
    if not expectation.shape or finding.met:
        return finding
    if finding.met is None:
        return _Finding(True, f"{finding.note} (compared as far as the SQL allows)")
    return _Finding(False, f"{finding.note}, so it is not the column the migration adds", other_shape=True)


def _compare_column_type(catalog: _Catalog, ref: _Ref, column: _Column, wanted: str) -> _Finding:
    resolved = catalog.resolve_type(_parse_type_name(wanted))
    if resolved is None:
        return _Finding(None, f"cannot resolve type {wanted} to compare it with {ref.describe()} ({column.type})")
    type_oid, typmod = resolved
    if (type_oid, typmod) == (column.type_oid, column.typmod):
        return _Finding(True)
    return _Finding(False, f"{ref.describe()} has type {column.type}, not {wanted}")


def _compare_default(ref: _Ref, actual: str | None, wanted: object) -> _Finding:
    if wanted is None:
        return _Finding(actual is None, f"{ref.describe()} still has default {actual}" if actual is not None else "")
    if actual is None:
        return _Finding(False, f"{ref.describe()} has no default")
    if _normalized_default(actual) == _normalized_default(str(wanted)):
        return _Finding(True)
    return _Finding(None, f"{ref.describe()} has default {actual}; cannot tell whether that is {wanted}")


def _normalized_default(expression: str) -> str:
    """A default as SQL text, without the cast PostgreSQL adds to coerce a constant to the column's type."""
    node = _selected_expression(expression)
    if node is None:
        return expression
    if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.A_Const):
        node = node.arg
    return deparse(node)


def _evaluate_table_child(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    found = catalog.table_child(ref.kind, ref.schema, ref.parent, ref.name)
    if found is None:
        missing = _missing_table(catalog, expectation)
        if missing is not None:
            return missing
        if expectation.attribute is not None:
            return _Finding(None, f"{ref.describe()} does not exist, so whether it is validated cannot be checked")
        return _existence(expectation, False)
    if expectation.attribute == "validated":
        return _Finding(True) if found.validated else _Finding(False, f"{ref.describe()} is NOT VALID")
    if expectation.exists and ref.kind == "constraint":
        matches = constraint_matches(expectation.node, ref.name, found.definition)
        if matches is False:
            return _Finding(False, f"{ref.describe()} exists but is not the constraint the migration adds: {found.definition}", other_shape=True)
        if matches is None:
            return _Finding(True, f"{ref.describe()} compared by name only: {found.definition}")
    return _existence(expectation, True)


def _evaluate_type(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    found = catalog.type(ref.schema, ref.name)
    exists = found is not None and (ref.kind != "domain" or found.typtype == "d")
    if found is None or not exists or not expectation.exists:
        return _existence(expectation, exists)
    if expectation.labels:
        if found.typtype != "e":
            return _Finding(False, f"{ref.describe()} exists but is not an enum")
        missing = [label for label in expectation.labels if label not in found.labels]
        if missing:
            return _Finding(False, f"{ref.describe()} lacks labels {', '.join(missing)}", other_shape=True)
        # Labels added later may sit among them, but those the migration creates keep its order.
        if [label for label in found.labels if label in expectation.labels] != list(expectation.labels):
            return _Finding(False, f"{ref.describe()} has its labels in another order: {', '.join(found.labels)}", other_shape=True)
    return _Finding(True)


def _evaluate_enum_value(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    found = catalog.type(ref.schema, ref.parent)
    if found is None or found.typtype != "e":
        type_missing = f"enum type {ref.schema}.{ref.parent} does not exist"
        return _Finding(False, type_missing) if expectation.exists else _Finding(None, f"{type_missing}, so {ref.describe()} cannot be checked")
    return _existence(expectation, ref.name in found.labels)


def _evaluate_routine(catalog: _Catalog, expectation: _Expectation) -> _Finding:
    ref = expectation.ref
    overloads = catalog.routines(ref.schema, ref.name, _ROUTINE_KINDS[ref.kind])
    if not overloads or not expectation.exists or expectation.arguments is None:
        return _existence(expectation, bool(overloads))
    wanted = catalog.resolve_arguments(expectation.arguments)
    if wanted is None:
        return _Finding(None, f"{ref.describe()} exists; cannot resolve the argument types {expectation.arguments} to compare")
    bodies = [body for argument_types, _, body in overloads if argument_types == wanted]
    if bodies:
        if routine_body_matches(expectation.node, bodies[0]) is False:
            return _Finding(False, f"{ref.describe()}{expectation.arguments} exists with another body", other_shape=True)
        return _Finding(True)
    signatures = ", ".join(f"({text})" for _, text, _ in overloads)
    return _Finding(False, f"{ref.describe()} exists only as {signatures}, not {expectation.arguments}")


def _selected_expression(expression: str) -> ast.Node | None:
    """The expression of `SELECT <expression>`; None when that is not one expression."""
    try:
        statement = parse_sql(f"SELECT {expression}")[0].stmt
    except (ParseError, IndexError):
        return None
    if not isinstance(statement, ast.SelectStmt) or not statement.targetList:
        return None
    target = statement.targetList[0]
    return target.val if isinstance(target, ast.ResTarget) else None


def _parse_type_name(text: str) -> ast.TypeName | None:
    cast = _selected_expression(f"NULL::{text}")
    return cast.typeName if isinstance(cast, ast.TypeCast) else None


def _parse_argument_types(arguments: str) -> tuple[ast.TypeName, ...] | None:
    try:
        statement = parse_sql(f"DROP FUNCTION f{arguments}")[0].stmt
    except (ParseError, IndexError):
        return None
    if not isinstance(statement, ast.DropStmt) or not statement.objects or not isinstance(statement.objects[0], ast.ObjectWithArgs):
        return None
    return tuple(argument for argument in statement.objects[0].objargs or () if isinstance(argument, ast.TypeName))


@dataclass(frozen=True)
class _Column:
    type_oid: int
    typmod: int
    type: str
    not_null: bool
    default: str | None


@dataclass(frozen=True)
class _TableChild:
    validated: bool
    definition: str | None  # a constraint's, as pg_get_constraintdef prints it


@dataclass(frozen=True)
class _Type:
    typtype: str
    labels: tuple[str, ...]


_RELKIND = """
SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_ROW_SECURITY = """
SELECT c.relrowsecurity, c.relforcerowsecurity
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_INDEX = """
SELECT i.indisvalid AND i.indisready, t.relname, pg_catalog.pg_get_indexdef(c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
WHERE n.nspname = %s AND c.relname = %s
"""
_SEQUENCE = """
SELECT pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_COLUMN = """
SELECT a.atttypid, a.atttypmod, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped
"""
_TABLE_CHILD = {
    "constraint": """
SELECT o.convalidated, pg_catalog.pg_get_constraintdef(o.oid) FROM pg_catalog.pg_constraint o
JOIN pg_catalog.pg_class c ON c.oid = o.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND o.conname = %s
""",
    "trigger": """
SELECT true, NULL FROM pg_catalog.pg_trigger o
JOIN pg_catalog.pg_class c ON c.oid = o.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND o.tgname = %s AND NOT o.tgisinternal
""",
    "policy": """
SELECT true, NULL FROM pg_catalog.pg_policy o
JOIN pg_catalog.pg_class c ON c.oid = o.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND o.polname = %s
""",
}
# A table's row type is a composite type of the same name; only a standalone one (relkind 'c')
# is a type the migration created with CREATE TYPE.
_TYPE = """
SELECT t.typtype,
       ARRAY(SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
WHERE n.nspname = %s AND t.typname = %s AND (t.typrelid = 0 OR r.relkind = 'c')
"""
_ROUTINES = """
SELECT p.proargtypes::oid[], pg_catalog.oidvectortypes(p.proargtypes), p.prosrc
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s AND p.proname = %s AND p.prokind = ANY(%s)
ORDER BY 2
"""
_EXTENSION = "SELECT true FROM pg_catalog.pg_extension WHERE extname = %s"
_SCHEMA = "SELECT true FROM pg_catalog.pg_namespace WHERE nspname = %s"
# Resolves like the search_path Prisma sets: pg_catalog first (implicitly), then the target's schema.
_TYPE_BY_NAME = """
SELECT t.oid, t.typarray, pn.nspname, p.proname
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_proc p ON p.oid = t.typmodin
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE t.typname = %(name)s AND n.nspname = ANY(%(schemas)s)
ORDER BY array_position(%(schemas)s, n.nspname::text)
LIMIT 1
"""


class _Catalog:
    """Every query the probe runs, against pg_catalog, with parameters.

    A name given as None is SQL NULL, which matches no row: the object is reported missing.
    """

    def __init__(self, conn: psycopg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def _one(self, query: str, params: Params) -> tuple[Any, ...] | None:
        return self.conn.execute(query, params).fetchone()

    def relkind(self, schema: str | None, name: str | None) -> str | None:
        row = self._one(_RELKIND, (schema, name))
        return row[0] if row else None

    def row_security(self, schema: str | None, name: str | None) -> tuple[bool, bool]:
        row = self._one(_ROW_SECURITY, (schema, name))
        return (row[0], row[1]) if row else (False, False)

    def index(self, schema: str | None, name: str | None) -> tuple[bool, str, str] | None:
        """(valid and ready, table, definition) of an index."""
        row = self._one(_INDEX, (schema, name))
        return (row[0], row[1], row[2]) if row else None

    def sequence(self, schema: str | None, name: str | None) -> SequenceOptions | None:
        row = self._one(_SEQUENCE, (schema, name))
        return SequenceOptions(*row) if row else None

    def column(self, schema: str | None, table: str | None, name: str | None) -> _Column | None:
        row = self._one(_COLUMN, (schema, table, name))
        return _Column(*row) if row else None

    def table_child(self, kind: str, schema: str | None, table: str | None, name: str | None) -> _TableChild | None:
        row = self._one(_TABLE_CHILD[kind], (schema, table, name))
        return _TableChild(row[0], row[1]) if row else None

    def type(self, schema: str | None, name: str | None) -> _Type | None:
        row = self._one(_TYPE, (schema, name))
        return _Type(row[0], tuple(row[1])) if row else None

    def routines(self, schema: str | None, name: str | None, prokinds: tuple[str, ...]) -> list[tuple[list[int], str, str]]:
        """(argument type oids, argument types as text, body) of each overload."""
        rows = self.conn.execute(_ROUTINES, (schema, name, list(prokinds))).fetchall()
        return [(list(row[0]), row[1], row[2]) for row in rows]

    def extension_exists(self, name: str) -> bool:
        return self._one(_EXTENSION, (name,)) is not None

    def schema_exists(self, name: str) -> bool:
        return self._one(_SCHEMA, (name,)) is not None

    def resolve_arguments(self, arguments: str) -> list[int] | None:
        """The type oids of a routine's arguments written as `(integer, text[])`."""
        type_names = _parse_argument_types(arguments)
        if type_names is None:
            return None
        oids = []
        for type_name in type_names:
            resolved = self.resolve_type(type_name, with_typmod=False)
            if resolved is None:
                return None
            oids.append(resolved[0])
        return oids

    def resolve_type(self, type_name: ast.TypeName | None, *, with_typmod: bool = True) -> tuple[int, int] | None:
        """The type oid and typmod PostgreSQL would store for a type as written; None if unsure."""
        if type_name is None or type_name.setof or type_name.pct_type:
            return None
        names = names_of(type_name.names)
        if not names or len(names) > 3:
            return None
        schemas = ["pg_catalog", self.schema] if len(names) == 1 else [names[-2]]
        row = self._one(_TYPE_BY_NAME, {"name": names[-1], "schemas": schemas})
        if row is None:
            return None
        type_oid, array_oid, typmodin_schema, typmodin = row
        if type_name.arrayBounds:
            if not array_oid:
                return None
            type_oid = array_oid
        if not with_typmod or not type_name.typmods:
            return type_oid, -1
        modifiers = [text for text in map(_modifier_text, type_name.typmods) if text is not None]
        if typmodin is None or len(modifiers) != len(type_name.typmods):
            return None
        typmod = self._typmod(typmodin_schema, typmodin, modifiers)
        return (type_oid, typmod) if typmod is not None else None

    def _typmod(self, function_schema: str, function: str, modifiers: list[str]) -> int | None:
        # The type's own typmodin function turns `(20)` or `(10, 2)` into the stored typmod.
        query = sql.SQL("SELECT {}(%s::text[]::cstring[])").format(sql.Identifier(function_schema, function))
        try:
            with self.conn.transaction():
                row = self.conn.execute(query, (modifiers,)).fetchone()
        except psycopg.Error:
            return None
        return row[0] if row else None


def _modifier_text(modifier: ast.Node) -> str | None:
    value = modifier.val if isinstance(modifier, ast.A_Const) else None
    if isinstance(value, ast.Integer):
        return str(value.ival)
    if isinstance(value, ast.String):
        return value.sval
    if isinstance(value, ast.Float):
        return value.fval
    return None
