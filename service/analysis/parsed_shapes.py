"""Object shapes as a migration's SQL writes them, compared with the catalog's own definitions.

Without a shadow server to replay the history on, this is how far the SQL alone can tell that an
object of the right name is the migration's object: an index's table, uniqueness, method, columns,
ordering and INCLUDE list; a constraint's kind, columns, referenced table, columns and actions; a
function's body. The catalog side is parsed from what PostgreSQL prints (`pg_get_indexdef`,
`pg_get_constraintdef`, `prosrc`), so both sides are the same kind of tree. Where the two cannot be
compared with confidence (index expressions, predicates, operator classes), the answer is None:
the comparison is partial, and says so.
"""

from __future__ import annotations

from dataclasses import replace

from pglast import ast, parse_sql
from pglast.enums import ConstrType, SortByDir, SortByNulls
from pglast.parser import ParseError

from service.analysis.facts import Effect, MigrationFacts, deparse

# SERIAL is shorthand for an integer column with a sequence default; the catalog shows the integer.
_SERIAL_TYPES = {"serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint", "smallserial": "smallint", "serial2": "smallint"}


def with_table_shapes(analysis: MigrationFacts) -> MigrationFacts:
    """The facts, with each column of each created table as effects of its own: created, of its
    type, NOT NULL when declared so. A table of the right name but other columns is not the
    migration's table."""
    if analysis.parsed is None:
        return analysis
    columns = []
    for statement in analysis.parsed.statements:
        node = statement.node
        if not isinstance(node, ast.CreateStmt):
            continue
        relation = node.relation
        where = dict(schema=relation.schemaname, parent=relation.relname, line=statement.position.line)
        primary_key = {name for c in node.tableElts or () if isinstance(c, ast.Constraint) and c.contype == ConstrType.CONSTR_PRIMARY for name in _strings(c.keys)}
        for element in node.tableElts or ():
            if not isinstance(element, ast.ColumnDef) or element.typeName is None:
                continue
            type_name = deparse(element.typeName)
            type_name = _SERIAL_TYPES.get(type_name.lower(), type_name)
            constraints = {c.contype for c in element.constraints or ()}
            columns.append(Effect("create", "column", element.colname, **where))
            columns.append(Effect("alter", "column", element.colname, detail=f"TYPE {type_name}", **where))
            if constraints & {ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY} or element.colname in primary_key:
                columns.append(Effect("alter", "column", element.colname, detail="SET NOT NULL", **where))
    return replace(analysis, effects=analysis.effects + tuple(columns)) if columns else analysis


def statement_node(facts: MigrationFacts | None, effect: Effect) -> ast.Node | None:
    """The top-level statement an effect comes from (None inside a DO block or without a parse)."""
    if facts is None or facts.parsed is None or effect.statement >= len(facts.parsed.statements):
        return None
    return facts.parsed.statements[effect.statement].node


def index_matches(node: ast.Node | None, definition: str) -> bool | None:
    """Whether the catalog's index (`pg_get_indexdef`) is the one a CREATE INDEX makes; None: cannot tell."""
    if not isinstance(node, ast.IndexStmt):
        return None
    found = _parse_one(definition)
    if not isinstance(found, ast.IndexStmt):
        return None
    wanted_shape, found_shape = _index_shape(node), _index_shape(found)
    if wanted_shape is None or found_shape is None:
        return None
    return wanted_shape == found_shape


def constraint_matches(node: ast.Node | None, name: str, definition: str) -> bool | None:
    """Whether the catalog's constraint (`pg_get_constraintdef`) is the one the statement adds."""
    wanted = _added_constraint(node, name)
    found = _parse_one(f"ALTER TABLE t ADD CONSTRAINT c {definition}")
    if wanted is None or not isinstance(found, ast.AlterTableStmt):
        return None
    found = found.cmds[0].def_
    if wanted.contype != found.contype:
        return False
    if wanted.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
        return _strings(wanted.keys) == _strings(found.keys) and _strings(wanted.including) == _strings(found.including)
    if wanted.contype == ConstrType.CONSTR_FOREIGN:
        return (
            _strings(wanted.fk_attrs) == _strings(found.fk_attrs)
            and wanted.pktable.relname == found.pktable.relname
            # Without the referenced columns, the primary key is meant; the catalog names it.
            and (not wanted.pk_attrs or _strings(wanted.pk_attrs) == _strings(found.pk_attrs))
            and wanted.fk_del_action == found.fk_del_action
            and wanted.fk_upd_action == found.fk_upd_action
        )
    if wanted.contype == ConstrType.CONSTR_CHECK:
        return True if deparse(wanted.raw_expr) == deparse(found.raw_expr) else None
    return None


def routine_body_matches(node: ast.Node | None, body: str | None) -> bool | None:
    """Whether a function's stored body (`prosrc`) is the one CREATE FUNCTION gives it."""
    if not isinstance(node, ast.CreateFunctionStmt) or body is None:
        return None
    written = next((option.arg for option in node.options or () if option.defname == "as"), None)
    if not written or not isinstance(written[0], ast.String):
        return None  # a body in SQL-standard form, or a C function: the catalog keeps it otherwise
    return written[0].sval == body


def _added_constraint(node: ast.Node | None, name: str) -> ast.Constraint | None:
    if isinstance(node, ast.AlterTableStmt):
        for command in node.cmds or ():
            if isinstance(command.def_, ast.Constraint) and command.def_.conname == name:
                return command.def_
    if isinstance(node, ast.CreateStmt):
        for element in node.tableElts or ():
            if isinstance(element, ast.Constraint) and element.conname == name:
                return element
    return None


def _index_shape(node: ast.IndexStmt) -> tuple | None:
    if node.whereClause is not None:
        return None
    columns = []
    for element in node.indexParams or ():
        if element.name is None or element.opclass or element.collation:
            return None
        descending = element.ordering == SortByDir.SORTBY_DESC
        nulls_first = element.nulls_ordering == SortByNulls.SORTBY_NULLS_FIRST or (
            element.nulls_ordering == SortByNulls.SORTBY_NULLS_DEFAULT and descending
        )
        columns.append((element.name, descending, nulls_first))
    including = tuple(element.name for element in node.indexIncludingParams or ())
    # The table is compared by the caller, which follows renames later in the migration.
    return (bool(node.unique), (node.accessMethod or "btree").lower(), tuple(columns), including, bool(node.nulls_not_distinct))


def _strings(items) -> tuple[str, ...]:
    return tuple(item.sval for item in items or () if isinstance(item, ast.String))


def _parse_one(text: str) -> ast.Node | None:
    try:
        statements = parse_sql(text)
    except ParseError:
        return None
    return statements[0].stmt if len(statements) == 1 else None
