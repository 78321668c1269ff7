"""Whether a data statement (INSERT, UPDATE, DELETE, MERGE) changes nothing more when it runs twice."""

from __future__ import annotations

from pglast import ast
from pglast.enums import OnConflictAction

from service.analysis.parsing import iter_nodes, names_of, nodes_of


def _column_refs(node: object) -> set[str]:
    """The (unqualified) names of the columns `node` refers to."""
    return {name for ref in iter_nodes(node) if isinstance(ref, ast.ColumnRef) for name in names_of((ref.fields or ())[-1:])}


def dml_guarded(node: ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt) -> bool:
    """Whether re-running the statement changes nothing more than the first run did."""
    if isinstance(node, ast.DeleteStmt):
        return True
    if isinstance(node, ast.UpdateStmt):
        targets = {target.name for target in nodes_of(node.targetList, ast.ResTarget)}
        values = [target.val for target in nodes_of(node.targetList, ast.ResTarget)]
        if targets & _column_refs(values):
            return False  # `SET price = price * 100` compounds on every run, whatever the WHERE says
        if node.whereClause is not None and targets & _column_refs(node.whereClause):
            return True  # `WHERE mrn IS NULL` skips the rows already done
        # Values that depend neither on the row, the clock nor chance give the same rows again.
        return not _calls_volatile(values) and node.fromClause is None
    if isinstance(node, ast.InsertStmt):
        conflict = node.onConflictClause
        if conflict is not None and conflict.action == OnConflictAction.ONCONFLICT_NOTHING:
            return True
        if conflict is not None:
            # DO UPDATE is idempotent when it sets what was proposed, not when it adds to the row.
            values = [target.val for target in nodes_of(conflict.targetList, ast.ResTarget)]
            return not any(
                isinstance(ref, ast.ColumnRef) and not (ref.fields and len(ref.fields) > 1 and names_of(ref.fields[:1]) == ["excluded"])
                for ref in iter_nodes(values)
            )
        select = node.selectStmt
        return isinstance(select, ast.SelectStmt) and any(
            isinstance(sub, ast.SubLink) and _negated(select.whereClause, sub) for sub in iter_nodes(select.whereClause)
        )
    return False


_VOLATILE_FUNCTIONS = {
    "now",
    "random",
    "gen_random_uuid",
    "uuid_generate_v4",
    "nextval",
    "clock_timestamp",
    "statement_timestamp",
    "timeofday",
    "current_timestamp",
}


def _calls_volatile(node: object) -> bool:
    for found in iter_nodes(node):
        if isinstance(found, ast.FuncCall) and any(name.lower() in _VOLATILE_FUNCTIONS for name in names_of(found.funcname)[-1:]):
            return True
        if isinstance(found, ast.SQLValueFunction):
            return True
    return False


def _negated(where: ast.Node | None, sublink: ast.SubLink) -> bool:
    return any(isinstance(expr, ast.BoolExpr) and expr.boolop == 2 and sublink in (expr.args or ()) for expr in iter_nodes(where))
