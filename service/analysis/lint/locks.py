"""Which statements lock existing tables against the application's reads or writes.

PostgreSQL's lock modes from SHARE up conflict with the ROW EXCLUSIVE lock every INSERT, UPDATE
and DELETE takes; ACCESS EXCLUSIVE conflicts with plain SELECT too. A statement waiting for such a
lock also makes every later query on the table queue behind it, so the wait itself is an outage.
Tables created earlier in the same migration are not counted, since no other session can see them
yet, nor tables an earlier TRUNCATE of the migration already holds in ACCESS EXCLUSIVE mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType, VariableSetKind

from service.analysis.lint.nodes import dropped_names, is_table_alter, quoted, range_var, relation_name
from service.analysis.parsing import Statement, nodes_of, required

if TYPE_CHECKING:
    from service.analysis.lint.context import LintContext

LOCK_MODES = {
    1: "ACCESS SHARE",
    2: "ROW SHARE",
    3: "ROW EXCLUSIVE",
    4: "SHARE UPDATE EXCLUSIVE",
    5: "SHARE",
    6: "SHARE ROW EXCLUSIVE",
    7: "EXCLUSIVE",
    8: "ACCESS EXCLUSIVE",
}
SHARE = 5
SHARE_ROW_EXCLUSIVE = 6
ACCESS_EXCLUSIVE = 8

# ALTER TABLE subcommands that take SHARE UPDATE EXCLUSIVE, which lets reads and writes go on.
_LIGHT_ALTERS = {
    AlterTableType.AT_ValidateConstraint,
    AlterTableType.AT_SetStatistics,
    AlterTableType.AT_AttachPartition,
    AlterTableType.AT_ClusterOn,
    AlterTableType.AT_DropCluster,
}


# RENAME of a table, or of one of its columns or constraints, locks the table.
_RENAMES_IN_A_TABLE = (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT)


@dataclass(frozen=True)
class TableLock:
    """A lock a statement takes on a table other sessions use."""

    table: str  # as a message shows it
    mode: int  # PostgreSQL's lock mode number, SHARE (5) or stronger

    @property
    def mode_name(self) -> str:
        return LOCK_MODES[self.mode]


def blocking_locks(context: LintContext, statement: Statement) -> list[TableLock]:
    """The locks of SHARE mode or stronger that the statement takes on tables that already exist."""
    node = statement.node
    locks: list[TableLock] = []

    def lock(relation: ast.RangeVar | None, mode: int) -> None:
        if relation is not None and not context.is_empty_table(relation, statement):
            locks.append(TableLock(relation_name(relation), mode))

    if is_table_alter(node):
        commands = nodes_of(node.cmds, ast.AlterTableCmd)
        foreign_keys = [
            command.def_
            for command in commands
            if command.subtype == AlterTableType.AT_AddConstraint
            and isinstance(command.def_, ast.Constraint)
            and command.def_.contype == ConstrType.CONSTR_FOREIGN
        ]
        heavy = [command for command in commands if command.subtype not in _LIGHT_ALTERS]
        if heavy:
            only_foreign_keys = len(foreign_keys) == len(heavy)
            lock(node.relation, SHARE_ROW_EXCLUSIVE if only_foreign_keys else ACCESS_EXCLUSIVE)
        for constraint in foreign_keys:
            lock(constraint.pktable, SHARE_ROW_EXCLUSIVE)
    elif isinstance(node, ast.IndexStmt) and not node.concurrent:
        lock(node.relation, SHARE)
    elif isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE:
        for parts in dropped_names(node):
            lock(range_var(parts), ACCESS_EXCLUSIVE)
    elif isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TRIGGER:
        for parts in dropped_names(node):
            lock(range_var(parts[:-1]), ACCESS_EXCLUSIVE)
    elif isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_INDEX and not node.concurrent:
        # DROP INDEX names the index, not its table; the table is locked all the same.
        for parts in dropped_names(node):
            if not context.created_earlier("index", parts[-1], statement):
                locks.append(TableLock(f"the table of index {quoted(*parts)}", ACCESS_EXCLUSIVE))
    elif isinstance(node, ast.TruncateStmt):
        for relation in nodes_of(node.relations, ast.RangeVar):
            lock(relation, ACCESS_EXCLUSIVE)
    elif (isinstance(node, ast.RenameStmt) and node.renameType in _RENAMES_IN_A_TABLE) or (
        isinstance(node, ast.AlterObjectSchemaStmt) and node.objectType == ObjectType.OBJECT_TABLE
    ):
        lock(node.relation, ACCESS_EXCLUSIVE)
    elif isinstance(node, ast.CreateTrigStmt):
        lock(node.relation, SHARE_ROW_EXCLUSIVE)
    elif isinstance(node, ast.ClusterStmt):
        lock(node.relation, ACCESS_EXCLUSIVE)
    elif isinstance(node, ast.VacuumStmt) and any(option.defname == "full" for option in nodes_of(node.options, ast.DefElem)):
        for target in nodes_of(node.rels, ast.VacuumRelation):
            lock(target.relation, ACCESS_EXCLUSIVE)
    elif isinstance(node, ast.ReindexStmt) and not any(p.defname == "concurrently" for p in nodes_of(node.params, ast.DefElem)):
        lock(node.relation, SHARE)
    elif isinstance(node, ast.LockStmt) and required(node.mode) >= SHARE:
        for relation in nodes_of(node.relations, ast.RangeVar):
            lock(relation, required(node.mode))
    return locks


def first_lock_without(context: LintContext, setting: str) -> tuple[Statement, TableLock] | None:
    """The first statement taking a blocking lock while `setting` (a timeout) is unset or 0.

    A timeout the session sets before the file runs is in force until the file turns it off.
    """
    in_force = setting in context.session_timeouts
    for statement, locks in context.locks:
        node = statement.node
        if isinstance(node, ast.VariableSetStmt) and node.name == setting:
            in_force = node.kind == VariableSetKind.VAR_SET_VALUE and not _is_zero(node.args)
            continue
        if locks and not in_force:
            return statement, locks[0]
    return None


def _is_zero(args: tuple[ast.Node, ...] | None) -> bool:
    """`SET x = 0` and `SET x = '0'` turn a timeout off."""
    values = [arg.val for arg in nodes_of(args, ast.A_Const)]
    return len(values) == 1 and str(getattr(values[0], "ival", getattr(values[0], "sval", ""))).strip() in ("0", "0ms", "0s")
