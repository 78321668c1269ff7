"""Object shapes as a migration's SQL writes them, compared with the catalog's own definitions.

Without a shadow server to replay the history on, this is how far the SQL alone can tell that an
object of the right name is the migration's object: an index's table, uniqueness, method, columns,
ordering and INCLUDE list; a constraint's kind, columns, referenced table, columns and actions; a
function's body; a column's type, NOT NULL and default; a sequence's type and options. The catalog
side is parsed from what PostgreSQL prints (`pg_get_indexdef`, `pg_get_constraintdef`, `prosrc`),
so both sides are the same kind of tree. Where the two cannot be compared with confidence (index
expressions, predicates, operator classes), the answer is None: the comparison is partial, and
says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType, SortByDir, SortByNulls
from pglast.parser import ParseError

from service.analysis.facts.records import Effect, MigrationFacts
from service.analysis.facts.statements import describe_statement
from service.analysis.parsing import Statement, StatementNode, deparse, names_of, nodes_of

# SERIAL is shorthand for an integer column with a sequence default; the catalog shows the integer.
_SERIAL_TYPES = {"serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint", "smallserial": "smallint", "serial2": "smallint"}


@dataclass(frozen=True)
class ColumnShape:
    """What a column's definition states: its type (as the catalog shows it), NOT NULL, its default."""

    type_name: str
    not_null: bool
    default: str | None  # as written; None when none is stated (DEFAULT NULL stores none either)

    def stated(self) -> tuple[tuple[str, object], ...]:
        """(attribute, value) for what the definition states: its type, NOT NULL if so, a default if any."""
        return (("type", self.type_name), *((("not_null", True),) if self.not_null else ()), *((("default", self.default),) if self.default else ()))


@dataclass(frozen=True)
class SequenceOptions:
    """A sequence's options, as pg_sequence holds them."""

    data_type: str  # as format_type prints it: smallint, integer or bigint
    start: int
    increment: int
    minvalue: int
    maxvalue: int
    cache: int
    cycle: bool


def with_table_shapes(analysis: MigrationFacts) -> MigrationFacts:
    """The facts, with each column of each created table as an effect of its own, right after the
    table's: a table of the right name but other columns is not the migration's table. The probe
    compares each created column's shape (`column_shape`), whichever statement creates it."""
    if analysis.parsed is None:
        return analysis
    shaped: list[Effect] = []
    for effect in analysis.effects:
        shaped.append(effect)
        if effect.action == "create" and effect.kind == "table":
            shaped.extend(_created_columns(creating_statement(analysis, effect), effect))
    return replace(analysis, effects=tuple(shaped)) if len(shaped) != len(analysis.effects) else analysis


def creating_statement(facts: MigrationFacts | None, effect: Effect) -> ast.Node | None:
    """The statement that creates an effect's object: the top-level one, or the one inside its DO
    block. None without a parse, or when the block creates the object in more than one way."""
    if facts is None or facts.parsed is None or effect.statement >= len(facts.parsed.statements):
        return None
    node = facts.parsed.statements[effect.statement].node
    if not isinstance(node, ast.DoStmt):
        return node if isinstance(node, ast.Node) else None
    wanted = _identity(effect)
    candidates = {
        deparse(nested.node): nested.node
        for nested in facts.parsed.nested
        if nested.parent_index == effect.statement and isinstance(nested.node, ast.Node) and wanted in _objects_created(nested, effect.statement)
    }
    return next(iter(candidates.values())) if len(candidates) == 1 else None


def column_shape(node: ast.Node | None, name: str) -> ColumnShape | None:
    """The shape CREATE TABLE or ALTER TABLE … ADD COLUMN gives column `name`; None if it does not define it."""
    definition, in_primary_key = _column_definition(node, name)
    if definition is None or definition.typeName is None:
        return None
    type_name = deparse(definition.typeName)
    constraints = nodes_of(definition.constraints, ast.Constraint)
    kinds = {constraint.contype for constraint in constraints}
    default = next((c.raw_expr for c in constraints if c.contype == ConstrType.CONSTR_DEFAULT), None)
    return ColumnShape(
        _SERIAL_TYPES.get(type_name.lower(), type_name),
        bool(kinds & {ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY}) or in_primary_key,
        None if default is None or _is_null(default) else deparse(default),
    )


def sequence_differences(node: ast.Node | None, found: SequenceOptions | None) -> tuple[str, ...] | None:
    """How the catalog's sequence differs from the one CREATE SEQUENCE makes, with PostgreSQL's
    defaults for what the statement leaves out; only what follows with certainty is compared.
    None when there is nothing to compare."""
    if not isinstance(node, ast.CreateSeqStmt) or found is None:
        return None
    wanted = _stated_sequence(node)
    actual = {
        "type": found.data_type,
        "start": found.start,
        "increment": found.increment,
        "minvalue": found.minvalue,
        "maxvalue": found.maxvalue,
        "cache": found.cache,
        "cycle": found.cycle,
    }
    return tuple(
        f"{option} {_option_text(actual[option])}, not {_option_text(value)}"
        for option, value in wanted.items()
        if value is not None and actual[option] != value
    )


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


def constraint_matches(node: ast.Node | None, name: str, definition: str | None) -> bool | None:
    """Whether the catalog's constraint (`pg_get_constraintdef`) is the one the statement adds."""
    wanted = _added_constraint(node, name)
    if wanted is None or definition is None:
        return None
    found = _added_constraint(_parse_one(f"ALTER TABLE t ADD CONSTRAINT c {definition}"), "c")
    if found is None:
        return None
    if wanted.contype != found.contype:
        return False
    if wanted.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
        return _strings(wanted.keys) == _strings(found.keys) and _strings(wanted.including) == _strings(found.including)
    if wanted.contype == ConstrType.CONSTR_FOREIGN:
        return (
            _strings(wanted.fk_attrs) == _strings(found.fk_attrs)
            and _referenced_table(wanted) == _referenced_table(found)
            # Without the referenced columns, the primary key is meant; the catalog names it.
            and (not wanted.pk_attrs or _strings(wanted.pk_attrs) == _strings(found.pk_attrs))
            and wanted.fk_del_action == found.fk_del_action
            and wanted.fk_upd_action == found.fk_upd_action
        )
    if wanted.contype == ConstrType.CONSTR_CHECK and wanted.raw_expr is not None and found.raw_expr is not None:
        return True if deparse(wanted.raw_expr) == deparse(found.raw_expr) else None
    return None


def _referenced_table(foreign_key: ast.Constraint) -> str | None:
    return foreign_key.pktable.relname if foreign_key.pktable is not None else None


def routine_body_matches(node: ast.Node | None, body: str | None) -> bool | None:
    """Whether a function's stored body (`prosrc`) is the one CREATE FUNCTION gives it."""
    if not isinstance(node, ast.CreateFunctionStmt) or body is None:
        return None
    written = next((option.arg for option in nodes_of(node.options, ast.DefElem) if option.defname == "as"), None)
    if not isinstance(written, tuple) or not written or not isinstance(written[0], ast.String):
        return None  # a body in SQL-standard form, or a C function: the catalog keeps it otherwise
    return written[0].sval == body


_Identity = tuple[str, str | None, str | None, str]


def _identity(effect: Effect) -> _Identity:
    return effect.kind, effect.schema, effect.parent, effect.name


def _objects_created(statement: Statement, index: int) -> set[_Identity]:
    """The objects a statement creates, a created table's columns included."""
    described = describe_statement(statement, index, in_do_block=True).effects
    created = [effect for effect in described if effect.action == "create"]
    for table in [effect for effect in created if effect.kind == "table"]:
        created += _created_columns(statement.node, table)
    return {_identity(effect) for effect in created}


def _created_columns(node: StatementNode | None, table: Effect) -> list[Effect]:
    if not isinstance(node, ast.CreateStmt):
        return []
    return [
        Effect("create", "column", element.colname or "", table.schema, table.name, guarded=table.guarded, line=table.line, statement=table.statement)
        for element in node.tableElts or ()
        if isinstance(element, ast.ColumnDef) and element.typeName is not None
    ]


def _column_definition(node: ast.Node | None, name: str) -> tuple[ast.ColumnDef | None, bool]:
    """A column's definition in a statement, and whether a table constraint there makes it a primary key."""
    if isinstance(node, ast.CreateStmt):
        elements = node.tableElts or ()
        definition = next((e for e in elements if isinstance(e, ast.ColumnDef) and e.colname == name), None)
        primary_key = any(isinstance(e, ast.Constraint) and e.contype == ConstrType.CONSTR_PRIMARY and name in _strings(e.keys) for e in elements)
        return definition, primary_key
    if isinstance(node, ast.AlterTableStmt):
        for command in nodes_of(node.cmds, ast.AlterTableCmd):
            if command.subtype == AlterTableType.AT_AddColumn and isinstance(command.def_, ast.ColumnDef) and command.def_.colname == name:
                return command.def_, False
    return None, False


def _is_null(expression: ast.Node) -> bool:
    value = expression.arg if isinstance(expression, ast.TypeCast) else expression
    return isinstance(value, ast.A_Const) and bool(value.isnull)


# What format_type calls the types a sequence may have, and their ranges.
_SEQUENCE_TYPES = {"int2": "smallint", "int4": "integer", "int8": "bigint"}
_TYPE_RANGES: dict[str, tuple[int | None, int | None]] = {"smallint": (-(2**15), 2**15 - 1), "integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


def _stated_sequence(node: ast.CreateSeqStmt) -> dict[str, object]:
    """Each option the sequence gets, by CREATE SEQUENCE's rules for the omitted ones; None: unknown."""
    options = {option.defname: option.arg for option in nodes_of(node.options, ast.DefElem)}
    data_type = _sequence_type(options["as"]) if "as" in options else "bigint"
    increment = _number(options.get("increment"), 1)
    ascending = None if increment is None else increment > 0
    low, high = _TYPE_RANGES.get(data_type or "", (None, None))
    # NO MINVALUE / NO MAXVALUE (an option without a value) mean the default.
    minvalue = _number(options.get("minvalue"), {True: 1, False: low, None: None}[ascending])
    maxvalue = _number(options.get("maxvalue"), {True: high, False: -1, None: None}[ascending])
    start = _number(options.get("start"), {True: minvalue, False: maxvalue, None: None}[ascending])
    cycle = options.get("cycle")
    return {
        "type": data_type,
        "start": start,
        "increment": increment,
        "minvalue": minvalue,
        "maxvalue": maxvalue,
        "cache": _number(options.get("cache"), 1),
        "cycle": bool(cycle.boolval) if isinstance(cycle, ast.Boolean) else (False if cycle is None else None),
    }


def _sequence_type(type_name: object) -> str | None:
    if not isinstance(type_name, ast.TypeName) or type_name.arrayBounds:
        return None
    names = _strings(type_name.names)
    if not names or names[:-1] not in ((), ("pg_catalog",)):
        return None
    return _SEQUENCE_TYPES.get(names[-1])


def _number(value: object, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, ast.Integer):
        return value.ival
    if isinstance(value, ast.Float) and value.fval is not None:
        try:
            number = Decimal(value.fval)
        except InvalidOperation:
            return None
        return int(number) if number == number.to_integral_value() else None
    return None


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "CYCLE" if value else "NO CYCLE"
    return str(value)


def _added_constraint(node: ast.Node | None, name: str) -> ast.Constraint | None:
    if isinstance(node, ast.AlterTableStmt):
        for command in nodes_of(node.cmds, ast.AlterTableCmd):
            if isinstance(command.def_, ast.Constraint) and command.def_.conname == name:
                return command.def_
    if isinstance(node, ast.CreateStmt):
        for element in node.tableElts or ():
            if isinstance(element, ast.Constraint) and element.conname == name:
                return element
    return None


def _index_shape(node: ast.IndexStmt) -> tuple[object, ...] | None:
    if node.whereClause is not None:
        return None
    columns = []
    for element in nodes_of(node.indexParams, ast.IndexElem):
        if element.name is None or element.opclass or element.collation:
            return None
        descending = element.ordering == SortByDir.SORTBY_DESC
        nulls_first = element.nulls_ordering == SortByNulls.SORTBY_NULLS_FIRST or (element.nulls_ordering == SortByNulls.SORTBY_NULLS_DEFAULT and descending)
        columns.append((element.name, descending, nulls_first))
    including = tuple(element.name for element in nodes_of(node.indexIncludingParams, ast.IndexElem))
    # The table is compared by the caller, which follows renames later in the migration.
    return (bool(node.unique), (node.accessMethod or "btree").lower(), tuple(columns), including, bool(node.nulls_not_distinct))


def _strings(items: tuple[ast.Node, ...] | None) -> tuple[str, ...]:
    return tuple(names_of(items))


def _parse_one(text: str) -> ast.Node | None:
    try:
        statements = parse_sql(text)
    except ParseError:
        return None
    return statements[0].stmt if len(statements) == 1 else None
