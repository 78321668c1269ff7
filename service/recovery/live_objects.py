"""Schema objects named by kind and name, looked up in a live catalog: whether one exists, the
table an index or sequence belongs to, and how much data a table or column holds; and the objects
of a catalog fingerprint (a shadow's replay) named the same way.

Recovery asks these questions of the target itself, never of a shadow: only the target knows the
objects someone made by hand, and the rows in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from service.analysis.fingerprint import Fingerprint

# Above this many rows a count stops: enough to say "more than a million rows would be lost".
ROW_COUNT_BOUND = 1_000_000
# A count that takes longer than this gives up; the rows are then unknown, which asks a person.
COUNT_TIMEOUT_MS = 10_000

# Objects that share one namespace in the catalog count as one kind.
_SAME_KIND = {"procedure": "function", "domain": "type"}
_WITHOUT_SCHEMA = ("schema", "extension")
_TABLE_PARTS = ("column", "constraint", "trigger", "policy")


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One schema object: its kind, schema, name, and the table (or enum type) it belongs to.

    Functions are named without their arguments, so every overload of a name is one object here:
    a lookup can then only find more objects than there are, never fewer.
    """

    kind: str
    schema: str | None
    name: str
    parent: str | None = None

    @classmethod
    def of(cls, kind: str, name: str, schema: str | None, parent: str | None, default_schema: str) -> ObjectRef | None:
        """The object an effect names, its schema resolved as the migration's search_path does."""
        if not name or kind == "other":
            return None
        kind = _SAME_KIND.get(kind, kind)
        if kind in _WITHOUT_SCHEMA:
            return cls(kind, None, name)
        keeps_parent = kind in _TABLE_PARTS or kind == "enum_value"
        return cls(kind, schema or default_schema, name, parent if keeps_parent else None)

    @property
    def table(self) -> ObjectRef | None:
        """The table this object is part of, when that is known from its name alone."""
        if self.kind in _TABLE_PARTS and self.parent:
            return ObjectRef("table", self.schema, self.parent)
        return None

    @property
    def qualified(self) -> str:
        return ".".join(part for part in (self.schema, self.parent, self.name) if part)

    def __str__(self) -> str:
        label = "enum value" if self.kind == "enum_value" else self.kind.replace("_", " ")
        return f"{label} {self.qualified}"

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "schema": self.schema, "name": self.name, "parent": self.parent, "object": str(self)}


def objects_in(fingerprint: Fingerprint) -> frozenset[ObjectRef]:
    """Every object of a catalog fingerprint (e.g. the shadow's replay of the history before a
    migration), for `pre_existing`. Enum labels count as objects of their own."""
    kinds = {"tables": "table", "indexes": "index", "sequences": "sequence", "views": "view", "materialized_views": "materialized_view"}
    parts = {"columns": "column", "constraints": "constraint", "triggers": "trigger", "policies": "policy"}
    refs: set[ObjectRef] = set()
    for category, entries in fingerprint.objects.items():
        for key, definition in entries.items():
            if category in ("schemas", "extensions"):
                refs.add(ObjectRef(category[:-1], None, key[0]))
            elif category in parts:
                refs.add(ObjectRef(parts[category], key[0], key[2], key[1]))
            elif category == "functions":
                refs.add(ObjectRef("function", key[0], key[1].split("(", 1)[0]))
            elif category == "types":
                refs.add(ObjectRef("type", key[0], key[1]))
                labels = definition.get("labels")
                if isinstance(labels, (list, tuple)):
                    refs.update(ObjectRef("enum_value", key[0], str(label), key[1]) for label in labels)
            elif category in kinds:
                refs.add(ObjectRef(kinds[category], key[0], key[1]))
    return frozenset(refs)


_RELATION_KINDS = {"table": "rpf", "index": "iI", "sequence": "S", "view": "v", "materialized_view": "m"}
_EXISTS = {
    "relation": """SELECT true FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind = ANY(%s)""",
    "column": """SELECT true FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraint": """SELECT true FROM pg_catalog.pg_constraint o JOIN pg_catalog.pg_class c ON c.oid = o.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s AND o.conname = %s""",
    "trigger": """SELECT true FROM pg_catalog.pg_trigger o JOIN pg_catalog.pg_class c ON c.oid = o.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND o.tgname = %s AND NOT o.tgisinternal""",
    "policy": """SELECT true FROM pg_catalog.pg_policy o JOIN pg_catalog.pg_class c ON c.oid = o.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s AND o.polname = %s""",
    "enum_value": """SELECT true FROM pg_catalog.pg_enum e JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND t.typname = %s AND e.enumlabel = %s""",
    # A table's row type shares its name; only a standalone type (relkind 'c') is a CREATE TYPE.
    "type": """SELECT true FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
WHERE n.nspname = %s AND t.typname = %s AND (t.typrelid = 0 OR r.relkind = 'c')""",
    "function": """SELECT true FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s AND p.proname = %s""",
    "schema": "SELECT true FROM pg_catalog.pg_namespace WHERE nspname = %s",
    "extension": "SELECT true FROM pg_catalog.pg_extension WHERE extname = %s",
}
# The table an index is on, or the table whose column owns a sequence (SERIAL, identity).
_OWNING_TABLE = {
    "index": """SELECT t.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND t.relnamespace = c.relnamespace""",
    "sequence": """SELECT t.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'S' AND t.relnamespace = c.relnamespace""",
}
_ESTIMATED_ROWS = """SELECT c.reltuples FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'm')"""


def object_exists(conn: psycopg.Connection, ref: ObjectRef) -> bool | None:
    """Whether the catalog has the object; None for a kind it cannot look up."""
    if ref.kind in _RELATION_KINDS:
        row = conn.execute(_EXISTS["relation"], (ref.schema, ref.name, list(_RELATION_KINDS[ref.kind]))).fetchone()
    elif ref.kind in _WITHOUT_SCHEMA:
        row = conn.execute(_EXISTS[ref.kind], (ref.name,)).fetchone()
    elif ref.kind in ("type", "function"):
        row = conn.execute(_EXISTS[ref.kind], (ref.schema, ref.name)).fetchone()
    elif ref.kind in _EXISTS and ref.parent:
        row = conn.execute(_EXISTS[ref.kind], (ref.schema, ref.parent, ref.name)).fetchone()
    else:
        return None
    return row is not None


def owning_table(conn: psycopg.Connection, ref: ObjectRef) -> ObjectRef | None:
    """The table an object is part of: from its name for columns and constraints, else from the catalog."""
    if ref.table is not None:
        return ref.table
    query = _OWNING_TABLE.get(ref.kind)
    row = conn.execute(query, (ref.schema, ref.name)).fetchone() if query else None
    return ObjectRef("table", ref.schema, row[0]) if row else None


@dataclass(frozen=True)
class HeldData:
    """How much data an object holds: rows of a table, non-null values of a column."""

    count: int | None  # None: the count did not finish in time
    exact: bool  # False: PostgreSQL's estimate from the last ANALYZE
    what: str  # "rows" | "non-null values"

    @property
    def holds_data(self) -> bool:
        return self.count is None or self.count > 0

    def __str__(self) -> str:
        if self.count is None:
            return f"an unknown number of {self.what} (counting took longer than {COUNT_TIMEOUT_MS // 1000} s)"
        if self.exact and self.count > ROW_COUNT_BOUND:
            return f"more than {ROW_COUNT_BOUND:,} {self.what}"
        what = self.what.removesuffix("s") if self.count == 1 else self.what
        return f"{'' if self.exact else 'about '}{self.count:,} {what}"

    def to_dict(self) -> dict[str, object]:
        return {"count": self.count, "exact": self.exact, "what": self.what, "text": str(self)}


def held_data(conn: psycopg.Connection, ref: ObjectRef) -> HeldData | None:
    """The rows a table holds, or the non-null values of a column; None for other objects.

    An analysed table with rows gives PostgreSQL's estimate (`pg_class.reltuples`). "No rows" is
    never taken from an estimate, which may predate the rows: a table never analysed, or estimated
    empty, is counted, up to ROW_COUNT_BOUND + 1 rows.
    """
    if ref.kind == "table" and ref.schema:
        row = conn.execute(_ESTIMATED_ROWS, (ref.schema, ref.name)).fetchone()
        if row is None:
            return None
        if row[0] > 0:
            return HeldData(round(row[0]), False, "rows")
        table = sql.Identifier(ref.schema, ref.name)
        return HeldData(_bounded_count(conn, sql.SQL("SELECT 1 FROM {}").format(table)), True, "rows")
    if ref.kind == "column" and ref.schema and ref.parent:
        if not object_exists(conn, ref):
            return None
        query = sql.SQL("SELECT 1 FROM {} WHERE {} IS NOT NULL").format(sql.Identifier(ref.schema, ref.parent), sql.Identifier(ref.name))
        return HeldData(_bounded_count(conn, query), True, "non-null values")
    return None


def _bounded_count(conn: psycopg.Connection, rows: sql.Composed) -> int | None:
    query = sql.SQL("SELECT count(*) FROM ({} LIMIT {}) AS bounded").format(rows, sql.Literal(ROW_COUNT_BOUND + 1))
    # Inside a caller's transaction the timeout would outlive the count: put the caller's back.
    previous = _one(conn.execute("SELECT current_setting('statement_timeout')").fetchone())
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(COUNT_TIMEOUT_MS),))
            count = int(_one(conn.execute(query).fetchone()))
    except psycopg.errors.QueryCanceled:
        return None
    conn.execute("SELECT set_config('statement_timeout', %s, true)", (previous,))
    return count


def _one(row: tuple[Any, ...] | None) -> Any:
    """The value of a query that always returns one row (an aggregate, a setting)."""
    if row is None:
        raise RuntimeError("a single-row query returned no row")
    return row[0]
