"""Ignore rules for drift: name patterns for the objects other tools legitimately add to a target.

A pattern is an `fnmatch` pattern (`*`, `?`, `[abc]`; case-sensitive, as PostgreSQL names are),
matched against an object's name as the fingerprint writes it: unquoted, dot-joined, schema first:

- `public.Patient` (a table, view, sequence, index, type), `public.Patient.email` (a column, a
  constraint, a trigger, a policy: schema, table, name), `public.touch(a integer)` (a function,
  with its arguments), `pg_trgm` (an extension), `audit` (a schema);
- a pattern without a dot is matched against the object's own name, the last part (`*_tmp_idx`
  ignores every index whose name ends so, in any schema);
- a pattern may start with a kind and a colon to match only objects of that kind: `extension:*`,
  `index:public.*_tmp_idx`, `column:*.legacy_*`. Kinds: schema, extension, type (or enum, domain,
  composite type, range type), table, column, constraint, index, sequence, view, materialized view,
  function, trigger, policy;
- a part of a table (column, constraint, index, trigger, policy, owned sequence) is also ignored
  when the pattern matches its table: `public.audit_*` ignores those tables and all their parts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.analysis.fingerprint import CATEGORIES, TABLE_PARTS, Key, render_key, table_of

TYPE_KINDS = ("enum", "domain", "composite type", "range type")
KINDS = frozenset({*CATEGORIES.values(), *TYPE_KINDS})


class InvalidIgnorePattern(ValueError):
    """A pattern that names an unknown kind, or is empty."""


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str  # as written
    kind: str | None
    glob: str

    def matches(self, category: str, key: Key, definition: Mapping[str, object]) -> bool:
        if self.kind is not None and self.kind not in kinds_of(category, definition):
            return False
        names = [key]
        if category in TABLE_PARTS:
            table = table_of(category, key, definition)
            if table:
                names.append(table)
        qualified = "." in self.glob
        return any(fnmatch.fnmatchcase(render_key(name) if qualified else name[-1], self.glob) for name in names)


def parse_ignore_rules(patterns: Iterable[str]) -> tuple[IgnoreRule, ...]:
    """Rules from patterns; raises InvalidIgnorePattern naming the first bad one."""
    rules = []
    for pattern in patterns:
        prefix, colon, rest = pattern.partition(":")
        kind = prefix.strip()
        if colon and kind in KINDS:
            glob = rest.strip()
        elif colon and kind.replace(" ", "").isalpha():
            raise InvalidIgnorePattern(f"{pattern!r}: unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})")
        else:
            kind, glob = "", pattern.strip()
        if not glob:
            raise InvalidIgnorePattern(f"{pattern!r}: the pattern is empty")
        rules.append(IgnoreRule(pattern, kind or None, glob))
    return tuple(rules)


def first_match(rules: Iterable[IgnoreRule], category: str, key: Key, definition: Mapping[str, object]) -> IgnoreRule | None:
    return next((rule for rule in rules if rule.matches(category, key, definition)), None)


def kinds_of(category: str, definition: Mapping[str, object]) -> set[str]:
    """The kind words a pattern may use for an object: its category's, and for a type its own kind."""
    kinds = {CATEGORIES[category]}
    if category == "types":
        kinds.add(f"{definition.get('kind')}" if definition.get("kind") in ("enum", "domain") else f"{definition.get('kind')} type")
    return kinds
