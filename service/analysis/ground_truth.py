"""Whether migrations' effects are on the target as the shadow's replay of them shows.

The replays before and after a migration tell, one object at a time, what it touches: what it
adds, drops or defines otherwise. A table it adds is touched with all of its parts. Each touched
object is then looked up on the live target and compared with its whole definition as PostgreSQL
prints it (`pg_get_indexdef`, `pg_get_constraintdef`, column type, nullability, default, identity
and generated expression, enum labels in order, function bodies and signatures, …):

- done: defined as in the replay after the migration (absent, for what it drops);
- not done: as before the migration (absent, for what it adds);
- invalid: an index defined right that PostgreSQL marks INVALID or not ready;
- other shape: neither, e.g. an index of the same name on another column, or a table of the same
  name with other columns. It is not this migration's effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from service.analysis.fingerprint import (
    CATEGORIES,
    TABLE_PARTS,
    Fingerprint,
    Key,
    catalog_fingerprint,
    changed_keys,
    render_key,
    table_of,
)
from service.analysis.probe import CheckStatus, EffectState

Touched = dict[str, set[Key]]


@dataclass(frozen=True)
class ObjectCheck:
    """One object a migration touches, as the replay has it and as the target has it."""

    category: str
    key: Key
    status: CheckStatus
    expected: Mapping[str, object] | None  # None: the replay has no such object
    found: Mapping[str, object] | None

    @property
    def label(self) -> str:
        return f"{CATEGORIES[self.category]} {render_key(self.key)}"

    @property
    def present(self) -> bool:
        return self.status is CheckStatus.DONE

    @property
    def note(self) -> str:
        if self.status is CheckStatus.DONE:
            return ""
        if self.expected is None:
            return f"{self.label} exists, but the migrations do not leave it there"
        if self.found is None:
            return f"{self.label} is missing"
        if self.status is CheckStatus.INVALID:
            return f"{self.label} is INVALID or not ready (left by a failed CREATE INDEX CONCURRENTLY); PostgreSQL does not use it"
        differences = [
            f"{field.replace('_', ' ')}: the migrations give {_show(self.expected.get(field))}, the target has {_show(self.found.get(field))}"
            for field in sorted(self.expected.keys() | self.found.keys())
            if self.expected.get(field) != self.found.get(field)
        ]
        return f"{self.label} is defined otherwise than the migrations define it: " + "; ".join(differences)

    def to_dict(self) -> dict[str, object]:
        return {
            "object": self.label,
            "status": str(self.status),
            "expected": dict(self.expected) if self.expected is not None else None,
            "found": dict(self.found) if self.found is not None else None,
            "note": self.note,
        }


@dataclass(frozen=True)
class ShapeComparison:
    """The touched objects compared with the replay, and the overall state (none/all/partial)."""

    checks: tuple[ObjectCheck, ...]

    @property
    def state(self) -> EffectState:
        if not self.checks:
            return EffectState.UNKNOWN
        present = [check.present for check in self.checks]
        if all(present):
            return EffectState.ALL
        if not any(present):
            return EffectState.NONE
        return EffectState.PARTIAL

    @property
    def invalid_indexes(self) -> tuple[str, ...]:
        return tuple(render_key(c.key) for c in self.checks if c.status is CheckStatus.INVALID)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(check.note for check in self.checks if not check.present)

    def to_dict(self) -> dict[str, object]:
        return {
            "basis": "replay",
            "state": str(self.state),
            "invalid_indexes": list(self.invalid_indexes),
            "checks": [check.to_dict() for check in self.checks],
        }


def touched_objects(before: Fingerprint, after: Fingerprint) -> Touched:
    """What the migrations between two replays add, drop or redefine; an added table with its parts."""
    touched = changed_keys(before, after)
    added_tables = {key for key in touched.get("tables", set()) if key not in before.objects["tables"]}
    for category in TABLE_PARTS:
        for key, definition in after.objects[category].items():
            if table_of(category, key, definition) in added_tables:
                touched.setdefault(category, set()).add(key)
    return touched


def merge(touched: list[Touched]) -> Touched:
    merged: Touched = {}
    for part in touched:
        for category, keys in part.items():
            merged.setdefault(category, set()).update(keys)
    return merged


def compare_with_replay(conn: psycopg.Connection, before: Fingerprint, after: Fingerprint, touched: Touched | None = None) -> ShapeComparison:
    """The live target's touched objects compared with the replay `after` (see the module docstring).

    `before` is the replay before the first migration compared, `touched` what the migrations
    touch (by default, what differs between the two replays).
    """
    touched = {category: set(keys) for category, keys in (touched if touched is not None else touched_objects(before, after)).items()}
    live = catalog_fingerprint(conn, schemas=sorted(_schemas_of(touched)))
    added_tables = {key for key in touched.get("tables", set()) if key not in before.objects["tables"]}
    # Parts the live table has that the replay's does not: the table is of another shape.
    for category in TABLE_PARTS:
        for key, definition in live.objects[category].items():
            if table_of(category, key, definition) in added_tables:
                touched.setdefault(category, set()).add(key)
    checks = []
    for category in CATEGORIES:
        for key in sorted(touched.get(category, ())):
            expected = after.objects[category].get(key)
            found = live.objects[category].get(key)
            was = before.objects[category].get(key)
            checks.append(ObjectCheck(category, key, _status(category, expected, found, was), expected, found))
    return ShapeComparison(tuple(checks))


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _status(category: str, expected: Mapping[str, object] | None, found: Mapping[str, object] | None, was: Mapping[str, object] | None) -> CheckStatus:
    if found == expected:
        return CheckStatus.DONE
    if category == "indexes" and found is not None and not (found["valid"] and found["ready"]):
        # Built half way (defined as the migrations define it), or dropped half way (as before).
        usable = {**found, "valid": True, "ready": True}
        if usable in (expected, was):
            return CheckStatus.INVALID
    if found == was:
        return CheckStatus.NOT_DONE
    return CheckStatus.OTHER_SHAPE


def _schemas_of(touched: Touched) -> set[str]:
    schemas = {key[0] for key in touched.get("schemas", ())}
    for category, keys in touched.items():
        if category not in ("schemas", "extensions"):
            schemas.update(key[0] for key in keys)
    return schemas
