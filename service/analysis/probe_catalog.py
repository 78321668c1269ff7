"""Every query the effect probe runs against pg_catalog, and the type resolution it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg import sql
from psycopg.abc import Params

from service.analysis.parsed_shapes import SequenceOptions
from service.analysis.parsing import names_of


@dataclass(frozen=True)
class Column:
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


class Catalog:
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

    def column(self, schema: str | None, table: str | None, name: str | None) -> Column | None:
        row = self._one(_COLUMN, (schema, table, name))
        return Column(*row) if row else None

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


def _parse_argument_types(arguments: str) -> tuple[ast.TypeName, ...] | None:
    try:
        statement = parse_sql(f"DROP FUNCTION f{arguments}")[0].stmt
    except (ParseError, IndexError):
        return None
    if not isinstance(statement, ast.DropStmt) or not statement.objects or not isinstance(statement.objects[0], ast.ObjectWithArgs):
        return None
    return tuple(argument for argument in statement.objects[0].objargs or () if isinstance(argument, ast.TypeName))
