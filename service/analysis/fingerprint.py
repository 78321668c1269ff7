"""A catalog fingerprint: the schema objects of a database as plain, comparable data.

Two fingerprints are equal when the schemas hold the same objects with the same definitions, as
PostgreSQL itself prints them (`format_type`, `pg_get_indexdef`, `pg_get_constraintdef`,
`pg_get_viewdef`, `pg_get_triggerdef`, `pg_get_functiondef`). Rollback verification compares the
fingerprint before a migration with the one after the migration and its rollback.

Deliberately left out: the `_prisma_migrations` table (its rows change with every deploy), data,
sequences' current values, owners and privileges, and column order (a rollback that re-adds a
dropped column puts it last, which no query by name notices). Objects that belong to an extension
are represented by the extension, not one by one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from service.prisma.history import MIGRATIONS_TABLE

# Categories in the order differences are reported, with the name of one object of each.
CATEGORIES = {
    "schemas": "schema",
    "extensions": "extension",
    "types": "type",
    "tables": "table",
    "columns": "column",
    "constraints": "constraint",
    "indexes": "index",
    "sequences": "sequence",
    "views": "view",
    "materialized_views": "materialized view",
    "functions": "function",
    "triggers": "trigger",
    "policies": "policy",
}
# Objects reported with their table (a sequence when a column owns it): when the table itself is
# added or missing, they are counted in its line rather than listed one by one.
TABLE_PARTS = ("columns", "constraints", "indexes", "sequences", "triggers", "policies")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Fingerprint:
    """Every fingerprinted object by category, keyed by its qualified name as a tuple."""

    schemas: tuple[str, ...]
    objects: Mapping[str, Mapping[Key, Mapping[str, object]]] = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "schemas": list(self.schemas),
            "digest": self.digest,
            **{category: {render_key(key): dict(definition) for key, definition in sorted(entries.items())} for category, entries in self.objects.items()},
        }

    def restricted_to(self, schemas: Iterable[str]) -> Fingerprint:
        """The objects of `schemas` only; extensions, which belong to the whole database, stay."""
        kept = set(schemas)
        objects = {
            category: {key: definition for key, definition in entries.items() if category == "extensions" or key[0] in kept}
            for category, entries in self.objects.items()
        }
        return Fingerprint(tuple(name for name in self.schemas if name in kept), objects)

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the objects: equal fingerprints, equal digests."""
        canonical = {category: [[list(key), definition] for key, definition in sorted(entries.items())] for category, entries in self.objects.items()}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Difference:
    """One object that is added, missing, or defined differently in the second fingerprint."""

    category: str
    name: str
    change: str  # added | missing | differs
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        label = CATEGORIES.get(self.category, self.category)
        if self.change == "differs":
            return f"{label} {self.name} definition differs: {'; '.join(self.details)}"
        suffix = f" ({', '.join(self.details)})" if self.details else ""
        return f"{label} {self.name} {self.change}{suffix}"

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "name": self.name,
            "change": self.change,
            "details": list(self.details),
            "text": str(self),
        }


def render_key(key: Key) -> str:
    return ".".join(key)


_USER_SCHEMAS = """
SELECT nspname FROM pg_catalog.pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%'
  AND nspname NOT LIKE 'pg\\_temp\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = pg_namespace.oid AND d.deptype = 'e')
ORDER BY nspname
"""
_EXISTING_SCHEMAS = "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY(%(schemas)s) ORDER BY nspname"

# An object created by CREATE EXTENSION depends on it with type 'e'; one PostgreSQL makes as part
# of another (a range type's constructor functions, an identity column's sequence) with type 'i'.
_NOT_FROM_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype IN ('e', 'i'))"""

_QUERIES = {
    "extensions": """
SELECT e.extname, e.extversion, n.nspname
FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
""",
    "types": f"""
SELECT n.nspname, t.typname, t.typtype,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
       t.typnotnull, t.typdefault,
       ARRAY(SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
             WHERE c.contypid = t.oid ORDER BY c.conname),
       ARRAY(SELECT a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       CASE WHEN t.typtype = 'r' THEN (SELECT pg_catalog.format_type(r.rngsubtype, NULL)
                                       FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) END
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
WHERE n.nspname = ANY(%(schemas)s) AND t.typtype IN ('e', 'd', 'r', 'c') AND (t.typrelid = 0 OR r.relkind = 'c')
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_type", oid="t.oid")}
""",
    "sequences": f"""
SELECT n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       (SELECT ARRAY[tn.nspname::text, t.relname::text, a.attname::text] FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind = 'S'
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
""",
    "tables": f"""
SELECT n.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'f') AND c.relname <> %(history)s
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
""",
    "columns": f"""
SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'f') AND c.relname <> %(history)s
  AND a.attnum > 0 AND NOT a.attisdropped
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
""",
    "constraints": f"""
SELECT n.nspname, c.relname, o.conname, pg_catalog.pg_get_constraintdef(o.oid)
FROM pg_catalog.pg_constraint o
JOIN pg_catalog.pg_class c ON c.oid = o.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relname <> %(history)s
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
""",
    "indexes": f"""
SELECT n.nspname, c.relname, t.relname, pg_catalog.pg_get_indexdef(c.oid), i.indisvalid, i.indisready
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND t.relname <> %(history)s
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="t.oid")}
""",
    "views": f"""
SELECT n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('v', 'm')
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
""",
    "functions": f"""
SELECT n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), p.prokind,
       pg_catalog.pg_get_function_result(p.oid),
       CASE WHEN p.prokind = 'a' THEN p.prosrc ELSE pg_catalog.pg_get_functiondef(p.oid) END
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s)
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_catalog.pg_proc", oid="p.oid")}
""",
    "triggers": """
SELECT n.nspname, c.relname, g.tgname, pg_catalog.pg_get_triggerdef(g.oid), g.tgenabled
FROM pg_catalog.pg_trigger g
JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND NOT g.tgisinternal AND c.relname <> %(history)s
""",
    "policies": """
SELECT n.nspname, c.relname, p.polname, p.polcmd, p.polpermissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) AS r ORDER BY 1),
       pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s)
""",
}
_RELKINDS = {"r": "table", "p": "partitioned table", "f": "foreign table", "v": "view", "m": "materialized view"}
_TYPE_KINDS = {"e": "enum", "d": "domain", "r": "range", "c": "composite"}


def catalog_fingerprint(conn: psycopg.Connection, schemas: Iterable[str] | None = ("public",)) -> Fingerprint:
    """The fingerprint of `schemas` (None: every schema that is not PostgreSQL's own).

    Extensions are database-wide, so all of them are included. Outside a transaction, the queries
    share one REPEATABLE READ snapshot; inside the caller's, they see what it sees.
    """
    starts_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if starts_transaction:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if schemas is None:
            names = [row[0] for row in conn.execute(_USER_SCHEMAS)]
        else:
            names = [row[0] for row in conn.execute(_EXISTING_SCHEMAS, {"schemas": list(schemas)})]
        params = {"schemas": names, "history": MIGRATIONS_TABLE}
        rows = {category: conn.execute(query, params).fetchall() for category, query in _QUERIES.items()}
    objects: dict[str, dict[Key, dict[str, object]]] = {
        "schemas": {(name,): {} for name in names},
        "extensions": {(name,): {"version": version, "schema": schema} for name, version, schema in rows["extensions"]},
        "types": {(row[0], row[1]): _type_definition(row) for row in rows["types"]},
        "sequences": {
            (schema, name): {
                "type": type_name,
                "start": start,
                "increment": increment,
                "min": minimum,
                "max": maximum,
                "cache": cache,
                "cycle": cycle,
                "owned_by": owned_by,
            }
            for schema, name, type_name, start, increment, minimum, maximum, cache, cycle, owned_by in rows["sequences"]
        },
        "tables": {
            (schema, name): {
                "kind": _RELKINDS[relkind],
                "unlogged": persistence == "u",
                "row_security": security,
                "force_row_security": forced,
                "partition_of": bound,
            }
            for schema, name, relkind, persistence, security, forced, bound in rows["tables"]
        },
        "columns": {
            (schema, table, name): {
                "type": type_name,
                "not_null": not_null,
                "default": default,
                "identity": identity or None,
                "generated": generated or None,
                "collation": collation,
            }
            for schema, table, name, type_name, not_null, default, identity, generated, collation in rows["columns"]
        },
        "constraints": {(schema, table, name): {"definition": definition} for schema, table, name, definition in rows["constraints"]},
        "indexes": {
            (schema, name): {"table": table, "definition": definition, "valid": valid, "ready": ready}
            for schema, name, table, definition, valid, ready in rows["indexes"]
        },
        "views": {(schema, name): {"definition": definition} for schema, name, relkind, definition in rows["views"] if relkind == "v"},
        "materialized_views": {(schema, name): {"definition": definition} for schema, name, relkind, definition in rows["views"] if relkind == "m"},
        "functions": {
            (schema, f"{name}({arguments})"): {
                "kind": {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}[prokind],
                "returns": result,
                "definition_sha256": hashlib.sha256((definition or "").encode()).hexdigest(),
            }
            for schema, name, arguments, prokind, result, definition in rows["functions"]
        },
        "triggers": {(schema, table, name): {"definition": definition, "enabled": enabled} for schema, table, name, definition, enabled in rows["triggers"]},
        "policies": {
            (schema, table, name): {
                "command": command,
                "permissive": permissive,
                "roles": list(roles),
                "using": using,
                "with_check": check,
            }
            for schema, table, name, command, permissive, roles, using, check in rows["policies"]
        },
    }
    ordered = {category: dict(sorted(objects[category].items())) for category in CATEGORIES}
    return Fingerprint(tuple(names), ordered)


def _type_definition(row: tuple[Any, ...]) -> dict[str, object]:
    _, _, typtype, labels, base, not_null, default, constraints, attributes, subtype = row
    kind = _TYPE_KINDS[typtype]
    if kind == "enum":
        return {"kind": kind, "labels": list(labels)}
    if kind == "domain":
        return {"kind": kind, "base": base, "not_null": not_null, "default": default, "constraints": list(constraints)}
    if kind == "range":
        return {"kind": kind, "subtype": subtype}
    return {"kind": kind, "attributes": list(attributes)}


def changed_keys(before: Fingerprint, after: Fingerprint) -> dict[str, set[Key]]:
    """Every object added, missing or defined differently in `after`, by category, one by one."""
    changed: dict[str, set[Key]] = {}
    for category in CATEGORIES:
        old, new = before.objects.get(category, {}), after.objects.get(category, {})
        keys = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        if keys:
            changed[category] = keys
    return changed


def diff(before: Fingerprint, after: Fingerprint) -> list[Difference]:
    """What changed from `before` to `after`, category by category, names in sorted order.

    A table that is added or missing is one line that counts its columns, indexes and other parts,
    instead of one line each.
    """
    differences: list[Difference] = []
    whole_tables: dict[str, set[Key]] = {"added": set(), "missing": set()}
    for category in CATEGORIES:
        old, new = before.objects.get(category, {}), after.objects.get(category, {})
        for key in sorted(old.keys() | new.keys()):
            if key in old and key in new:
                if old[key] != new[key]:
                    differences.append(Difference(category, render_key(key), "differs", changed_fields(old[key], new[key])))
                continue
            change = "missing" if key in old else "added"
            if category in TABLE_PARTS and table_of(category, key, old.get(key) or new[key]) in whole_tables[change]:
                continue
            details: tuple[str, ...] = ()
            if category == "tables":
                whole_tables[change].add(key)
                details = parts_of_table(key, before if change == "missing" else after)
            differences.append(Difference(category, render_key(key), change, details))
    return differences


def table_of(category: str, key: Key, definition: Mapping[str, object]) -> Key:
    """The (schema, table) a part of a table belongs to; () for a sequence no column owns."""
    if category == "indexes":
        return (key[0], str(definition["table"]))
    if category == "sequences":
        owner = definition["owned_by"]  # [schema, table, column], or None
        return tuple(owner[:2]) if isinstance(owner, (list, tuple)) and owner else ()
    return key[:2]


def parts_of_table(table: Key, fingerprint: Fingerprint) -> tuple[str, ...]:
    counts = []
    for category in TABLE_PARTS:
        entries = fingerprint.objects.get(category, {})
        count = sum(1 for key, definition in entries.items() if table_of(category, key, definition) == table)
        if count:
            label = CATEGORIES[category]
            counts.append(f"{count} {label if count == 1 else _plural(label)}")
    return tuple(counts)


def _plural(label: str) -> str:
    return {"index": "indexes", "policy": "policies"}.get(label, label + "s")


def changed_fields(old: Mapping[str, object], new: Mapping[str, object]) -> tuple[str, ...]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before != after:
            if name.endswith("sha256"):
                # A hash only says "changed"; its first characters are enough to tell versions apart.
                before, after = f"{str(before)[:12]}…", f"{str(after)[:12]}…"
            changes.append(f"{name.replace('_', ' ')} {_show(before)} → {_show(after)}")
    return tuple(changes)


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)
