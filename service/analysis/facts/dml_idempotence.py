"""Whether a data statement (INSERT, UPDATE, DELETE, MERGE) changes nothing more when it runs twice."""

from __future__ import annotations

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, OnConflictAction

from service.analysis.parsing import iter_nodes, names_of, nodes_of

# NOT LIKE (!~~), NOT ILIKE (!~~*), NOT SIMILAR TO and !~ (!~), !~*; and the matches they negate.
_NEGATED_MATCHES = {"!~", "!~*", "!~~", "!~~*"}
_MATCHES = {"~", "~*", "~~", "~~*"}
_MATCH_KINDS = (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE, A_Expr_Kind.AEXPR_SIMILAR)


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
        new_values = {target.name: target.val for target in nodes_of(node.targetList, ast.ResTarget) if target.name and target.val is not None}
        if any(_excludes_done_rows(condition, new_values) for condition in _conjuncts(node.whereClause)):
            return True  # `WHERE "phone" !~ '^\+'`, `WHERE "email" <> lower("email")`: a second run finds no row left
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


def _conjuncts(where: ast.Node | None) -> list[ast.Node]:
    """The conditions a row must meet, each on its own: the WHERE's top-level AND split up."""
    if isinstance(where, ast.BoolExpr) and where.boolop == BoolExprType.AND_EXPR:
        return [condition for argument in where.args or () for condition in _conjuncts(argument)]
    return [where] if where is not None else []


def _excludes_done_rows(condition: ast.Node, new_values: dict[str, ast.Node]) -> bool:
    """Whether a row the UPDATE already changed fails this condition, so a second run skips it.

    `NOT EXISTS (…)` (or `NOT IN (SELECT …)`) that the first run makes true; a set column that must
    not match a pattern (`!~`, `NOT LIKE`, `NOT ILIKE`, `NOT SIMILAR TO`), as people write "not
    converted yet"; a set column that must differ from its new value (`<>`, `IS DISTINCT FROM`).
    """
    if isinstance(condition, ast.BoolExpr) and condition.boolop == BoolExprType.NOT_EXPR:
        negated = (condition.args or (None,))[0]
        return isinstance(negated, ast.SubLink) or _done_rows_meet(negated, new_values)
    if not isinstance(condition, ast.A_Expr):
        return False
    operator = _operator(condition)
    if condition.kind in _MATCH_KINDS and operator in _NEGATED_MATCHES:
        return _set_column(condition.lexpr, new_values) is not None
    if (condition.kind == A_Expr_Kind.AEXPR_OP and operator == "<>") or condition.kind == A_Expr_Kind.AEXPR_DISTINCT:
        return _compares_with_new_value(condition, new_values)
    return False


def _done_rows_meet(condition: object, new_values: dict[str, ast.Node]) -> bool:
    """Whether every row the UPDATE changed meets the condition: `NOT (…)` of it then skips them."""
    if not isinstance(condition, ast.A_Expr):
        return False
    operator = _operator(condition)
    if condition.kind in _MATCH_KINDS and operator in _MATCHES:
        return _set_column(condition.lexpr, new_values) is not None
    if (condition.kind == A_Expr_Kind.AEXPR_OP and operator == "=") or condition.kind == A_Expr_Kind.AEXPR_NOT_DISTINCT:
        return _compares_with_new_value(condition, new_values)
    return False


def _operator(expression: ast.A_Expr) -> str:
    """The operator's name without its schema (`OPERATOR(pg_catalog.~)` is `~`)."""
    names = names_of(expression.name)
    return names[-1] if names else ""


def _set_column(node: object, new_values: dict[str, ast.Node]) -> str | None:
    """The name of the column the UPDATE sets that `node` refers to, if it is one."""
    if isinstance(node, ast.ColumnRef):
        name = names_of((node.fields or ())[-1:])
        if name and name[0] in new_values:
            return name[0]
    return None


def _compares_with_new_value(comparison: ast.A_Expr, new_values: dict[str, ast.Node]) -> bool:
    """`"email" <> lower("email")` beside `SET "email" = lower("email")`: after the first run the two
    are equal. Not so for a value that changes again each time it is applied (`"total" + 499`,
    `'+1' || "phone"`) or that the clock or chance gives (`now()`)."""
    for column_side, value_side in ((comparison.lexpr, comparison.rexpr), (comparison.rexpr, comparison.lexpr)):
        column = _set_column(column_side, new_values)
        if column is not None and value_side == new_values[column]:
            value = new_values[column]
            compounds = isinstance(value, ast.A_Expr) and any(_set_column(operand, {column: value}) for operand in (value.lexpr, value.rexpr))
            return not compounds and not _calls_volatile(value)
    return False
