"""Parse a migration into statements with positions, looking inside DO blocks.

A file that does not parse becomes a `ParseProblem` with a line and column, never an exception.
Statements inside `DO $$ … $$` bodies are parsed with the PL/pgSQL parser and returned as nested
statements carrying what guards them (an IF condition, an exception handler), so rules and facts
can tell a guarded `CREATE TYPE` from a bare one. The small helpers for reading pglast nodes (names,
child nodes, deparsed text) that the analysis modules share live here too.
"""

from __future__ import annotations

import gc
import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from pglast import ast, parse_sql
from pglast.parser import ParseError, parse_plpgsql_json
from pglast.stream import RawStream

# pglast types every node attribute as optional, a node-valued one as any node, and list elements as Any;
# these narrow them to what the grammar gives.
T = TypeVar("T")
N = TypeVar("N", bound=ast.Node)


def required(value: T | None) -> T:
    """A node attribute the grammar always gives (a CREATE TABLE's relation)."""
    assert value is not None, "pglast left out a part the grammar requires"
    return value


def required_node(value: object, node_type: type[N]) -> N:
    """A node attribute the grammar always makes a `node_type` (an ADD COLUMN's definition is a ColumnDef)."""
    assert isinstance(value, node_type), f"pglast gave {type(value).__name__} where the grammar gives {node_type.__name__}"
    return value


def nodes_of(items: tuple[Any, ...] | None, node_type: type[N]) -> list[N]:
    """The `node_type` elements of a list attribute (a CREATE TABLE's columns among its elements)."""
    return [item for item in items or () if isinstance(item, node_type)]


def names_of(items: tuple[ast.Node, ...] | None) -> list[str]:
    """The strings of a qualified name as pglast holds it (`["public", "Role"]` for `"public"."Role"`)."""
    return [item.sval for item in items or () if isinstance(item, ast.String) and item.sval is not None]


def deparse(node: ast.Node) -> str:
    return RawStream()(node)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused while a migration is parsed and read (as a decorator too).

    A large file's syntax tree is hundreds of thousands of objects with no cycle among them (reference
    counting frees them); each full collection would walk them all again, which cost a third of the
    time of a 4 MiB file. Collection resumes afterwards, for what the work left behind.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def iter_nodes(node: object) -> Iterator[ast.Node]:
    """Every AST node below `node` (a node, a tuple or list of them, or anything else: none), depth first."""
    # A stack rather than nested generators: a recursive `yield from` costs every node the depth of
    # the tree, and this walk is the analysis's hottest loop. Only the attributes that can hold
    # nodes are read (a RangeVar's seven attributes hold one: its alias).
    stack = [node]
    pop, push, known = stack.pop, stack.extend, _BRANCH_ATTRIBUTES
    while stack:
        item = pop()
        if isinstance(item, ast.Node):
            yield item
            attributes = known.get(type(item))
            if attributes is None:
                attributes = known[type(item)] = _attributes_that_can_branch(type(item))
            push(reversed([value for attribute in attributes if (value := getattr(item, attribute)) is not None]))
        elif isinstance(item, (tuple, list)):
            push(reversed([value for value in item if isinstance(value, (ast.Node, tuple, list))]))


# Per node type, the attributes that pglast types as a node or a list, in the node's order.
_BRANCH_ATTRIBUTES: dict[type, tuple[str, ...]] = {}


def _attributes_that_can_branch(node_type: type) -> tuple[str, ...]:
    def can_branch(declared: object) -> bool:
        kinds = declared if isinstance(declared, tuple) else (declared,)
        return any(kind in (tuple, list) or (isinstance(kind, type) and issubclass(kind, ast.Node)) for kind in kinds)

    slots = getattr(node_type, "__slots__", None)
    # Every node the parser makes declares its attributes' types; the abstract bases declare none.
    return tuple(name for name, info in slots.items() if can_branch(info.py_type)) if isinstance(slots, dict) else ()


@dataclass(frozen=True)
class Position:
    """1-based line and column in the migration file."""

    line: int
    column: int


@dataclass(frozen=True)
class ParseProblem:
    message: str
    position: Position
    # Set when the problem is inside a DO block body.
    in_do_block: bool = False


@dataclass(frozen=True)
class Guard:
    """Why a statement inside a DO block only runs when it is needed."""

    kind: str  # "if" (a condition) or "exception" (a handler that swallows the error)
    text: str  # the condition, or the handled condition names
    conditions: tuple[str, ...] = ()  # for a handler: the condition names it catches

    @property
    def checks_catalog(self) -> bool:
        return self.kind == "if" and bool(_CATALOG_CHECK.search(self.text))

    def covers(self, node: StatementNode) -> bool:
        """Whether this guard makes re-running the statement harmless.

        An IF must look at the catalog; a handler must catch what a second run raises
        (`duplicate_table` for a second UNIQUE constraint, not `duplicate_object`), or `others`.
        """
        if self.kind == "if":
            return self.checks_catalog
        caught = {name.lower() for name in self.conditions}
        needed = duplicate_conditions(node)
        return "others" in caught or (bool(needed) and needed <= caught)


@dataclass(frozen=True)
class OpaqueSql:
    """SQL built at run time (`EXECUTE format(…)`): nobody can tell what it does from the file."""

    text: str


# What a statement holds: pglast's node, or SQL nobody can parse because it is built at run time.
StatementNode = ast.Node | OpaqueSql

# The PL/pgSQL parser's JSON tree, as json.loads gives it.
PlpgsqlTree = Any


def duplicate_conditions(node: StatementNode) -> frozenset[str]:
    """The condition names a second run of a creating statement raises."""
    from pglast.enums import AlterTableType, ConstrType

    match node:
        case ast.CreateStmt() | ast.IndexStmt() | ast.CreateSeqStmt() | ast.ViewStmt() | ast.CreateTableAsStmt():
            return frozenset({"duplicate_table"})
        case ast.CreateEnumStmt() | ast.CompositeTypeStmt() | ast.CreateDomainStmt() | ast.AlterEnumStmt():
            return frozenset({"duplicate_object"})
        case ast.CreateTrigStmt() | ast.CreateExtensionStmt() | ast.CreatePolicyStmt():
            return frozenset({"duplicate_object"})
        case ast.CreateFunctionStmt():
            return frozenset({"duplicate_function"})
        case ast.CreateSchemaStmt():
            return frozenset({"duplicate_schema"})
        case ast.AlterTableStmt():
            needed: set[str] = set()
            for command in node.cmds or ():
                if not isinstance(command, ast.AlterTableCmd):
                    return frozenset()
                if command.subtype == AlterTableType.AT_AddColumn:
                    needed.add("duplicate_column")
                elif command.subtype == AlterTableType.AT_AddConstraint and isinstance(command.def_, ast.Constraint):
                    contype = command.def_.contype
                    if contype == ConstrType.CONSTR_PRIMARY:
                        needed.add("invalid_table_definition")  # 42P16: multiple primary keys
                    elif contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
                        needed.add("duplicate_table")  # the constraint's index already exists
                    else:
                        needed.add("duplicate_object")
                else:
                    return frozenset()
            return frozenset(needed)
    return frozenset()


_CATALOG_CHECK = re.compile(
    r"\b(pg_catalog|pg_type|pg_enum|pg_class|pg_namespace|pg_attribute|pg_constraint|pg_index|"
    r"pg_indexes|pg_tables|pg_proc|pg_trigger|pg_extension|information_schema|to_regclass|"
    r"to_regtype|to_regproc|to_regnamespace)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a migration (or inside one of its DO blocks)."""

    node: StatementNode
    text: str
    position: Position
    # For a statement inside a DO block: the DO statement's index, and the guards around it.
    parent_index: int | None = None
    guards: tuple[Guard, ...] = ()
    # Set when it came from EXECUTE of a string literal inside a DO block.
    dynamic: bool = False

    @cached_property
    def string_literals(self) -> frozenset[str]:
        """The values of the string literals in the statement (not identifiers, which pglast also holds
        as String). One walk of the tree, shared by the facts and every rule that asks."""
        return frozenset(
            found.val.sval
            for found in iter_nodes(self.node)
            if isinstance(found, ast.A_Const) and isinstance(found.val, ast.String) and found.val.sval is not None
        )

    @property
    def kind(self) -> str:
        return type(self.node).__name__

    @property
    def guarded(self) -> bool:
        return any(guard.covers(self.node) for guard in self.guards)


@dataclass(frozen=True)
class ParsedMigration:
    name: str
    script: str
    statements: tuple[Statement, ...]
    problems: tuple[ParseProblem, ...] = ()
    # Statements found inside DO blocks, in order; each names its DO statement by index.
    nested: tuple[Statement, ...] = ()

    @property
    def parses(self) -> bool:
        return not self.problems

    @cached_property
    def all_statements(self) -> tuple[Statement, ...]:
        """Top-level statements with each DO block followed by what it contains."""
        ordered: list[Statement] = []
        for index, statement in enumerate(self.statements):
            ordered.append(statement)
            ordered.extend(self.nested_in(index))
        return tuple(ordered)

    def nested_in(self, index: int) -> tuple[Statement, ...]:
        """The statements inside the DO block that is top-level statement `index`, in order."""
        return self._nested_by_parent.get(index, ())

    @cached_property
    def _nested_by_parent(self) -> dict[int | None, tuple[Statement, ...]]:
        grouped: dict[int | None, list[Statement]] = defaultdict(list)
        for statement in self.nested:
            grouped[statement.parent_index].append(statement)
        return {index: tuple(statements) for index, statements in grouped.items()}


def position_of(script: str, offset: int) -> Position:
    """Line and column (1-based, in characters) of a character offset."""
    offset = max(0, min(offset, len(script)))
    line_starts = _line_starts(script)
    line = bisect_right(line_starts, offset)
    return Position(line, offset - line_starts[line - 1] + 1)


# Positions are asked for over and over in the same few texts (the file, then a DO body): their line
# offsets are found once each. A str caches its own hash, so finding the file again costs nothing.
@lru_cache(maxsize=8)
def _line_starts(script: str) -> list[int]:
    """The offset at which each line begins."""
    return [0, *(match.end() for match in re.finditer("\n", script))]


def parse_migration(script: str, name: str = "") -> ParsedMigration:
    """Every statement of a migration with its position; DO bodies parsed too."""
    try:
        raw = parse_sql(script)
    except ParseError as error:
        message, offset = _parse_error_parts(error)
        return ParsedMigration(name, script, (), (ParseProblem(message, position_of(script, offset)),))
    statements: list[Statement] = []
    nested: list[Statement] = []
    problems: list[ParseProblem] = []
    for index, raw_statement in enumerate(raw):
        raw_start = raw_statement.stmt_location or 0
        # A length of 0 means "to the end of the script".
        raw_end = raw_start + raw_statement.stmt_len if raw_statement.stmt_len else len(script)
        # libpg_query counts a statement from the end of the previous one, comments included.
        start = _skip_comments(script, raw_start)
        statement = Statement(required(raw_statement.stmt), script[start:raw_end].strip(), position_of(script, start))
        statements.append(statement)
        if isinstance(raw_statement.stmt, ast.DoStmt):
            inner, inner_problems = _parse_do_block(script, raw_statement.stmt, index, start)
            nested.extend(inner)
            problems.extend(inner_problems)
    return ParsedMigration(name, script, tuple(statements), tuple(problems), tuple(nested))


def _parse_error_parts(error: ParseError) -> tuple[str, int]:
    message = error.args[0] if error.args else str(error)
    offset = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else 0
    return str(message), offset


_COMMENT = re.compile(r"\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/)", re.DOTALL)


def _skip_comments(script: str, offset: int) -> int:
    while True:
        match = _COMMENT.match(script, offset)
        if not match or match.end() == offset:
            break
        offset = match.end()
    while offset < len(script) and script[offset].isspace():
        offset += 1
    return offset


def do_block_body(node: ast.DoStmt) -> tuple[str | None, str]:
    """(body, language) of a DO statement."""
    body: str | None = None
    language = "plpgsql"
    for arg in nodes_of(node.args, ast.DefElem):
        if not isinstance(arg.arg, ast.String):
            continue
        if arg.defname == "as":
            body = arg.arg.sval
        elif arg.defname == "language":
            language = arg.arg.sval or language
    return body, language


def _parse_do_block(script: str, node: ast.DoStmt, index: int, do_offset: int) -> tuple[list[Statement], list[ParseProblem]]:
    body, language = do_block_body(node)
    if body is None or language.lower() != "plpgsql":
        return [], []
    body_offset = script.find(body, do_offset)
    body_line = position_of(script, body_offset if body_offset >= 0 else do_offset).line
    where = position_of(script, do_offset)
    tag = "dg_body"
    while f"${tag}$" in body:
        tag += "_"
    wrapper = f"CREATE FUNCTION dg_do_block() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}$"
    try:
        tree = json.loads(parse_plpgsql_json(wrapper))
    except ParseError as error:
        message, _ = _parse_error_parts(error)
        # The PL/pgSQL parser gives no offset; the token it names is the best pointer we have.
        near = re.search(r'at or near "(.+)"', message)
        offset = body.find(near.group(1)) if near else -1
        body_position = position_of(body, offset if offset >= 0 else 0)
        return [], [ParseProblem(f"in DO block: {message}", Position(body_line + body_position.line - 1, body_position.column), in_do_block=True)]
    found: list[Statement] = []
    problems: list[ParseProblem] = []
    for function in tree:
        action = function.get("PLpgSQL_function", {}).get("action", {})
        _walk_plpgsql(action, (), index, (where, body_line), found, problems)
    return found, problems


def _walk_plpgsql(
    node: PlpgsqlTree,
    guards: tuple[Guard, ...],
    index: int,
    where: tuple[Position, int],
    found: list[Statement],
    problems: list[ParseProblem],
) -> None:
    """Collect SQL run by a PL/pgSQL body, with the IF conditions and handlers around it."""
    if isinstance(node, list):
        for item in node:
            _walk_plpgsql(item, guards, index, where, found, problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "PLpgSQL_stmt_block":
            handled = _handled_conditions(value)
            inner_guards = guards + ((Guard("exception", ", ".join(handled), tuple(handled)),) if handled else ())
            _walk_plpgsql(value.get("body", []), inner_guards, index, where, found, problems)
            for handler in (value.get("exceptions") or {}).get("PLpgSQL_exception_block", {}).get("exc_list", []):
                _walk_plpgsql(handler.get("PLpgSQL_exception", {}).get("action", []), guards, index, where, found, problems)
        elif key == "PLpgSQL_stmt_if":
            condition = _expr_text(value.get("cond"))
            positive = guards + (Guard("if", condition),)
            _walk_plpgsql(value.get("then_body", []), positive, index, where, found, problems)
            for elsif in value.get("elsif_list", []) or []:
                branch = elsif.get("PLpgSQL_if_elsif", {})
                _walk_plpgsql(branch.get("stmts", []), guards + (Guard("if", _expr_text(branch.get("cond"))),), index, where, found, problems)
            _walk_plpgsql(value.get("else_body", []), guards + (Guard("if", f"NOT ({condition})"),), index, where, found, problems)
        elif key == "PLpgSQL_stmt_execsql":
            at = _line_in_body(where, value)
            _add_sql(_expr_text(value.get("sqlstmt")), guards, index, at, found, problems, dynamic=False)
        elif key == "PLpgSQL_stmt_dynexecute":
            query = _expr_text(value.get("query"))
            literal = _string_literal(query)
            at = _line_in_body(where, value)
            if literal is not None:
                _add_sql(literal, guards, index, at, found, problems, dynamic=True)
            else:
                found.append(Statement(OpaqueSql(query), f"EXECUTE {query}", at[0], index, tuple(guards), dynamic=True))
        else:
            _walk_plpgsql(value, guards, index, where, found, problems)


def _line_in_body(where: tuple[Position, int], statement: dict[str, PlpgsqlTree]) -> tuple[Position, int]:
    do_position, body_line = where
    lineno = statement.get("lineno")
    return (Position(body_line + lineno - 1, 1) if lineno else do_position), body_line


def _handled_conditions(block: dict[str, PlpgsqlTree]) -> list[str]:
    names: list[str] = []
    for handler in (block.get("exceptions") or {}).get("PLpgSQL_exception_block", {}).get("exc_list", []):
        for condition in handler.get("PLpgSQL_exception", {}).get("conditions", []):
            name = condition.get("PLpgSQL_condition", {}).get("condname")
            if name:
                names.append(name)
    return names


def _expr_text(expr: PlpgsqlTree) -> str:
    if isinstance(expr, dict):
        return str(expr.get("PLpgSQL_expr", {}).get("query", "") or "")
    return ""


def _string_literal(text: str) -> str | None:
    """The value of a plain SQL string literal (`'…'` or `$$…$$`), else None."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    match = re.fullmatch(r"\$(\w*)\$(.*)\$\1\$", text, re.DOTALL)
    return match.group(2) if match else None


def _add_sql(
    text: str,
    guards: tuple[Guard, ...],
    index: int,
    where: tuple[Position, int],
    found: list[Statement],
    problems: list[ParseProblem],
    *,
    dynamic: bool,
) -> None:
    position = where[0]
    if not text.strip():
        return
    try:
        raw = parse_sql(text)
    except ParseError as error:
        message, _ = _parse_error_parts(error)
        problems.append(ParseProblem(f"in DO block: {message}", position, in_do_block=True))
        return
    for raw_statement in raw:
        start = raw_statement.stmt_location or 0
        length = raw_statement.stmt_len or (len(text) - start)
        found.append(
            Statement(
                required(raw_statement.stmt),
                text[start : start + length].strip(),
                position,
                parent_index=index,
                guards=tuple(guards),
                dynamic=dynamic,
            )
        )
