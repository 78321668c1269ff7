"""Small questions about pglast nodes that several rules ask."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from service.analysis.facts.transactions import outside_transaction_reason
from service.analysis.parsing import Statement, StatementNode, iter_nodes, names_of, nodes_of, required, required_node


def quoted(*names: str | None) -> str:
    """`"schema"."table"` as a message shows it (Prisma quotes every identifier)."""
    return ".".join('"' + name.replace('"', '""') + '"' for name in names if name)


def relation_name(relation: ast.RangeVar | None) -> str:
    return quoted(relation.schemaname, relation.relname) if relation is not None else "?"


def type_name(type_node: ast.TypeName | None) -> str:
    """The type's own name, lower case, without `pg_catalog.` (`int4`, `varchar`, `timestamp`)."""
    if type_node is None or not type_node.names:
        return ""
    last = type_node.names[-1]
    return (last.sval or "").lower() if isinstance(last, ast.String) else ""


def has_length(type_node: ast.TypeName) -> bool:
    return bool(type_node.typmods)


def is_table_alter(node: StatementNode) -> TypeGuard[ast.AlterTableStmt]:
    """ALTER TABLE proper, not ALTER INDEX / SEQUENCE / VIEW / FOREIGN TABLE, which share the node type."""
    return isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE


def table_commands(statement: Statement) -> Iterator[ast.AlterTableCmd]:
    """Every subcommand of an ALTER TABLE statement; nothing for other statements."""
    if is_table_alter(statement.node):
        yield from nodes_of(statement.node.cmds, ast.AlterTableCmd)


def alter_commands(statement: Statement, *subtypes: AlterTableType) -> Iterator[ast.AlterTableCmd]:
    """The ALTER TABLE statement's subcommands of these subtypes."""
    return (command for command in table_commands(statement) if command.subtype in subtypes)


def column_constraints(column: ast.ColumnDef, *types: ConstrType) -> list[ast.Constraint]:
    return [c for c in nodes_of(column.constraints, ast.Constraint) if c.contype in types]


def added_columns(statement: Statement) -> Iterator[ast.ColumnDef]:
    """Columns an ALTER TABLE … ADD COLUMN adds."""
    for command in alter_commands(statement, AlterTableType.AT_AddColumn):
        if isinstance(command.def_, ast.ColumnDef):
            yield command.def_


def defined_columns(statement: Statement) -> Iterator[ast.ColumnDef]:
    """Columns a CREATE TABLE or ALTER TABLE … ADD COLUMN defines."""
    node = statement.node
    if isinstance(node, ast.CreateStmt):
        yield from nodes_of(node.tableElts, ast.ColumnDef)
    else:
        yield from added_columns(statement)


def typed_columns(statement: Statement) -> Iterator[tuple[str | None, ast.TypeName, ast.Node]]:
    """(column name, type, node to point at) for every column type a statement chooses:
    CREATE TABLE, ADD COLUMN and ALTER COLUMN … TYPE."""
    for column in defined_columns(statement):
        if column.typeName is not None:
            yield column.colname, column.typeName, column
    for command in alter_commands(statement, AlterTableType.AT_AlterColumnType):
        if isinstance(command.def_, ast.ColumnDef) and command.def_.typeName is not None:
            yield command.name, command.def_.typeName, command.def_


def function_names(node: object) -> Iterator[str]:
    """Names (lower case, unqualified) of every function called below `node`."""
    for found in iter_nodes(node):
        if isinstance(found, ast.FuncCall) and found.funcname:
            last = found.funcname[-1]
            if isinstance(last, ast.String) and last.sval is not None:
                yield last.sval.lower()


SERIAL_TYPES = frozenset({"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"})


def refuses_transaction_block(node: StatementNode) -> str | None:
    """Why PostgreSQL refuses to run the statement inside a transaction block, if it does."""
    if isinstance(node, ast.VacuumStmt) and not node.is_vacuumcmd:
        # ANALYZE shares VACUUM's node but runs inside a transaction block.
        return None
    return outside_transaction_reason(node)


def is_concurrent_form(node: StatementNode) -> bool:
    """Whether the statement is one of the CONCURRENTLY forms that refuse a transaction block."""
    if not refuses_transaction_block(node):
        return False
    if isinstance(node, (ast.IndexStmt, ast.DropStmt)):
        return bool(node.concurrent)
    return isinstance(node, (ast.ReindexStmt, ast.AlterTableStmt))


def dropped_names(node: ast.DropStmt) -> Iterator[list[str]]:
    """The qualified name (as a list of parts) of each object a DROP names.

    DROP TRIGGER and DROP POLICY names end with the table then the object: `["public", "T", "t"]`.
    """
    for target in node.objects or ():
        if isinstance(target, ast.ObjectWithArgs):
            parts = target.objname
        elif isinstance(target, ast.TypeName):
            parts = target.names
        elif isinstance(target, ast.String):
            parts = (target,)
        else:
            parts = target
        names = names_of(parts)
        if names:
            yield names


def altered_table(statement: Statement) -> ast.RangeVar:
    """The table of an ALTER TABLE statement, such as those `LintContext.alter_commands` gives."""
    return required(required_node(statement.node, ast.AlterTableStmt).relation)


def range_var(parts: list[str]) -> ast.RangeVar:
    """The relation a `[schema, ]name` list of parts names."""
    return ast.RangeVar(relname=parts[-1], schemaname=parts[-2] if len(parts) > 1 else None)
