"""Drift: how a live target's catalog differs from what its applied migrations make.

`compare_catalogs(expected, live, ...)` takes two catalog fingerprints (service.analysis.fingerprint):
`expected`, the shadow's replay of the applied history (a template database, or a clone of one),
and `live`, the target's. It knows nothing of where they came from, so any step that holds a replay
and the target's fingerprint (a rehearsal on a clone, say) can ask it. service.analysis.drift_check
gathers both for a target and its history.

Each object of the compared schemas is compared whole: tables, columns (type, nullability,
default, identity, generation, collation), constraints, indexes (definition, and INVALID or not
ready), enums and their values in order, domains, composite and range types, sequences, views and
materialized views, functions (signature, result, body), triggers (definition, enabled), row
security policies, schemas, and the database's extensions with their versions. The
`_prisma_migrations` table is never compared. Objects an ignore rule (service.analysis.drift_ignore)
matches are set apart, not dropped, so a report can say what was ignored and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.analysis.drift_ignore import IgnoreRule, first_match
from service.analysis.drift_words import drift_line, kind_word
from service.analysis.fingerprint import CATEGORIES, TABLE_PARTS, Fingerprint, Key, parts_of_table, render_key, table_of

# What each change means for drift; the fingerprint's own words ("added" to the live target).
ON_TARGET_ONLY = "added"
IN_MIGRATIONS_ONLY = "missing"
DEFINED_OTHERWISE = "differs"


@dataclass(frozen=True)
class DriftItem:
    """One object that is on the target only, in the migrations only, or defined otherwise."""

    category: str
    key: Key
    change: str  # added (on the target only) | missing (in the migrations only) | differs
    expected: Mapping[str, object] | None  # as the replay of the migrations has it; None: absent there
    found: Mapping[str, object] | None  # as the target has it; None: absent there
    text: str
    ignored_by: str | None = None  # the ignore pattern that matched it

    @property
    def name(self) -> str:
        """The name ignore patterns match (`public.Patient.email`)."""
        return render_key(self.key)

    def to_dict(self) -> dict[str, object]:
        definition = self.expected if self.expected is not None else self.found
        document: dict[str, object] = {
            "category": self.category,
            "kind": kind_word(self.category, definition or {}),
            "name": self.name,
            "change": self.change,
            "text": self.text,
            "expected": dict(self.expected) if self.expected is not None else None,
            "found": dict(self.found) if self.found is not None else None,
        }
        if self.ignored_by is not None:
            document["ignored_by"] = self.ignored_by
        return document


@dataclass(frozen=True)
class Drift:
    """The differences between a replay and a live target, the ignored ones apart."""

    schemas: tuple[str, ...]
    items: tuple[DriftItem, ...]
    ignored: tuple[DriftItem, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    @property
    def lines(self) -> list[str]:
        return [item.text for item in self.items]

    def to_dict(self) -> dict[str, object]:
        return {
            "drifted": self.drifted,
            "schemas": list(self.schemas),
            "differences": [item.to_dict() for item in self.items],
            "ignored": [item.to_dict() for item in self.ignored],
        }


def compare_catalogs(expected: Fingerprint, live: Fingerprint, *, home: str, schemas: Iterable[str], ignore: Iterable[IgnoreRule] = ()) -> Drift:
    """How `live` differs from `expected` in `schemas` (and extensions); see the module docstring.

    `home` is the target's own schema, whose name the words leave out. A table that is on one side
    only is one item whose line counts its parts; its parts are not listed one by one.
    """
    compared = tuple(sorted(set(schemas)))
    replay, target = expected.restricted_to(compared), live.restricted_to(compared)
    rules = tuple(ignore)
    items: list[DriftItem] = []
    ignored: list[DriftItem] = []
    whole_tables: dict[str, set[Key]] = {ON_TARGET_ONLY: set(), IN_MIGRATIONS_ONLY: set()}
    for category in CATEGORIES:
        theirs, ours = replay.objects.get(category, {}), target.objects.get(category, {})
        for key in sorted(theirs.keys() | ours.keys()):
            was, now = theirs.get(key), ours.get(key)
            if was == now:
                continue
            change = DEFINED_OTHERWISE if was is not None and now is not None else (ON_TARGET_ONLY if was is None else IN_MIGRATIONS_ONLY)
            definition = was if was is not None else now
            assert definition is not None
            if change != DEFINED_OTHERWISE and category in TABLE_PARTS and table_of(category, key, definition) in whole_tables[change]:
                continue
            parts: tuple[str, ...] = ()
            if category == "tables" and change != DEFINED_OTHERWISE:
                whole_tables[change].add(key)
                parts = parts_of_table(key, target if change == ON_TARGET_ONLY else replay)
            item = DriftItem(category, key, change, was, now, drift_line(category, key, change, was, now, home, parts))
            rule = first_match(rules, category, key, definition)
            if rule is None:
                items.append(item)
            else:
                ignored.append(DriftItem(item.category, item.key, item.change, was, now, item.text, rule.pattern))
    return Drift(compared, tuple(items), tuple(ignored))


def drift_schemas(replay: Fingerprint, home: str) -> list[str]:
    """The schemas the migrations touch: the target's own, and every other schema the replay has.

    A replay starts from an empty database holding only `public` and the target's schema, so any
    other schema in it is one the applied migrations made. `public` counts only when it is the
    target's schema or the migrations put something in it: a target whose schema is `app` may have
    other things in its `public`, which are none of these migrations' business.
    """
    schemas = {home}
    for name in replay.schemas:
        if name != "public" or _holds_objects(replay, name):
            schemas.add(name)
    return sorted(schemas)


def _holds_objects(fingerprint: Fingerprint, schema: str) -> bool:
    return any(key[0] == schema for category, entries in fingerprint.objects.items() if category not in ("schemas", "extensions") for key in entries)
