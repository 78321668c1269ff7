"""What each effect of a migration should look like in the catalog once the migration has run.

Each effect becomes one or more expectations: a created object exists, a dropped one does not, a
renamed one is gone under its old name and there under its new one, an altered column has the new
nullability, type or default. Unqualified names resolve in the target's Prisma schema. A created
object carries the statement that creates it, for the shape its SQL states (`parsed_shapes`).

Later statements of the same migration change what an earlier effect should look like, so they
are replayed first: `CREATE TABLE a; ALTER TABLE a RENAME TO b` expects `b`, a column added to a
table the migration renames is looked for on the new name, and an object created and then dropped
again (or dropped and re-created) leaves nothing to tell, so that effect has no expectation left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pglast import ast

from service.analysis.facts.records import Effect, MigrationFacts
from service.analysis.parsed_shapes import column_shape, creating_statement

# Kinds whose objects live in pg_class, and the relkinds each accepts.
RELKINDS = {
    "table": ("r", "p", "f"),
    "view": ("v",),
    "materialized_view": ("m",),
    "sequence": ("S",),
    "index": ("i", "I"),
}
# Kinds that belong to a table: the table is part of their identity.
_TABLE_CHILDREN = ("column", "constraint", "trigger", "policy")
ROUTINE_KINDS = {"function": ("f", "w"), "procedure": ("p",)}
_KIND_ALIASES = {"matview": "materialized_view"}
_CHECKABLE_KINDS = {
    *RELKINDS,
    *_TABLE_CHILDREN,
    *ROUTINE_KINDS,
    "type",
    "domain",
    "enum_value",
    "extension",
    "schema",
}
_UNSCHEMED_KINDS = ("extension", "schema")


@dataclass(frozen=True)
class Ref:
    """One catalog object, with its schema resolved (None for schemas and extensions)."""

    kind: str
    name: str
    schema: str | None
    parent: str | None = None  # the table of a column, constraint, trigger, policy or index; an enum label's type

    @property
    def family(self) -> str:
        # Relations share one namespace (ALTER TABLE renames a view too); a domain is a type.
        if self.kind in RELKINDS:
            return "relation"
        if self.kind in ROUTINE_KINDS:
            return "routine"
        if self.kind == "domain":
            return "type"
        return self.kind

    def same_object(self, other: Ref) -> bool:
        owned = self.kind in _TABLE_CHILDREN or self.kind == "enum_value"
        return self.family == other.family and self.name == other.name and self.schema == other.schema and (not owned or self.parent == other.parent)

    def belongs_to(self, owner: Ref) -> bool:
        """Whether dropping or renaming `owner` takes this object with it."""
        if owner.kind == "schema":
            return self.schema == owner.name and self.kind not in _UNSCHEMED_KINDS
        if owner.family == "relation":
            return (self.kind in _TABLE_CHILDREN or self.kind == "index") and self.schema == owner.schema and self.parent == owner.name
        if owner.family == "type":
            return self.kind == "enum_value" and self.schema == owner.schema and self.parent == owner.name
        return False

    def moved_with(self, old: Ref, new: Ref) -> Ref:
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
class Expectation:
    """What the catalog shows once the migration has run: the object exists or not, or has a value."""

    ref: Ref
    exists: bool
    attribute: str | None = None  # not_null | type | default | validated | row_security | force_row_security
    value: object = None
    labels: tuple[str, ...] = ()  # an enum type's labels
    arguments: str | None = None  # a routine's argument types, as "(integer, text[])"
    # Where the object was before later renames moved it, oldest first: if the migration stopped
    # before a rename, the effect is done under the earlier name.
    earlier_refs: tuple[Ref, ...] = ()
    node: ast.Node | None = field(default=None, compare=False)  # the creating statement, for its shape
    # Part of the shape the creating statement states: a mismatch is another object of the name.
    shape: bool = False


@dataclass
class Planned:
    effect: Effect
    expectations: list[Expectation]
    notes: list[str] = field(default_factory=list)
    # Why the catalog cannot tell, for effects that give no expectation at all.
    uncheckable: str | None = None
    ref: Ref | None = None


_COLUMN_ATTRIBUTES = {"SET NOT NULL": ("not_null", True), "DROP NOT NULL": ("not_null", False), "DROP DEFAULT": ("default", None)}
_TABLE_ATTRIBUTES = {
    "EnableRowSecurity": ("row_security", True),
    "DisableRowSecurity": ("row_security", False),
    "ForceRowSecurity": ("force_row_security", True),
    "NoForceRowSecurity": ("force_row_security", False),
}


def plan(facts: MigrationFacts, schema: str) -> list[Planned]:
    """Each effect's expectations, with what later effects of the migration do to them applied."""
    planned: list[Planned] = []
    for effect in facts.effects:
        # The statement that creates an object tells its shape, beyond its name.
        current = _expectations_of(effect, schema, creating_statement(facts, effect) if effect.action == "create" else None)
        for earlier in planned:
            _account_for_later(earlier, current)
        planned.append(current)
    return planned


def _expectations_of(effect: Effect, schema: str, node: ast.Node | None = None) -> Planned:
    kind = _KIND_ALIASES.get(effect.kind, effect.kind)
    if kind not in _CHECKABLE_KINDS:
        what = effect.name if kind == "other" and effect.name else kind.replace("_", " ")
        return Planned(effect, [], uncheckable=f"{what} cannot be checked in the catalog")
    if not effect.name:
        return Planned(effect, [], uncheckable=f"the {kind.replace('_', ' ')} has no name in the SQL (PostgreSQL chose it)")
    ref = Ref(kind, effect.name, None if kind in _UNSCHEMED_KINDS else effect.schema or schema, effect.parent)
    if effect.action == "create":
        arguments = effect.detail if kind in ROUTINE_KINDS else None
        shape = column_shape(node, ref.name) if kind == "column" else None
        stated = [Expectation(ref, True, attribute, value, shape=True) for attribute, value in (shape.stated() if shape else ())]
        return Planned(effect, [Expectation(ref, True, labels=effect.labels, arguments=arguments, node=node), *stated])
    if effect.action == "drop":
        return Planned(effect, [Expectation(ref, False)])
    if effect.action == "rename":
        if not effect.detail:
            return Planned(effect, [], uncheckable="the new name is not in the SQL")
        return Planned(effect, [Expectation(ref, False), Expectation(replace(ref, name=effect.detail), True)])
    detail = effect.detail or ""
    if kind == "column":
        if detail in _COLUMN_ATTRIBUTES:
            attribute, value = _COLUMN_ATTRIBUTES[detail]
            return Planned(effect, [Expectation(ref, True, attribute, value)])
        if detail.startswith("TYPE "):
            return Planned(effect, [Expectation(ref, True, "type", detail.removeprefix("TYPE "))])
        if detail.startswith("SET DEFAULT "):
            return Planned(effect, [Expectation(ref, True, "default", detail.removeprefix("SET DEFAULT "))])
    if kind == "constraint" and detail == "VALIDATE":
        return Planned(effect, [Expectation(ref, True, "validated", True)])
    if kind == "table" and detail in _TABLE_ATTRIBUTES:
        attribute, value = _TABLE_ATTRIBUTES[detail]
        return Planned(effect, [Expectation(ref, True, attribute, value)])
    change = f"ALTER {kind.replace('_', ' ').upper()} {detail}".rstrip()
    return Planned(effect, [], uncheckable=f"{change} cannot be checked in the catalog", ref=ref)


def _account_for_later(earlier: Planned, current: Planned) -> None:
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


def _superseded_by(made: Expectation) -> tuple[Callable[[Expectation], bool], str]:
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


def _with_label_renamed(expectation: Expectation, old: Ref, new: Ref) -> Expectation:
    """An enum type's expected labels after `ALTER TYPE … RENAME VALUE` later in the migration."""
    enum_type = Ref("type", old.parent or "", old.schema)
    if expectation.ref.same_object(enum_type) and old.name in expectation.labels:
        labels = tuple(new.name if label == old.name else label for label in expectation.labels)
        return replace(expectation, labels=labels)
    return expectation


def _drop_matching(planned: Planned, matches: Callable[[Expectation], bool], note: str) -> None:
    kept = [expectation for expectation in planned.expectations if not matches(expectation)]
    if len(kept) != len(planned.expectations):
        planned.expectations = kept
        if note not in planned.notes:
            planned.notes.append(note)
