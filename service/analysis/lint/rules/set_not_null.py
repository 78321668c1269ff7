"""ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock.

Problem:
    To set NOT NULL, PostgreSQL reads every row to check for NULLs while holding an ACCESS
    EXCLUSIVE lock, which blocks reads and writes for the length of the scan. On a large table
    that is an outage. It also fails with 23502 if any row is NULL, which development data may
    not show.

Solution:
    Since PostgreSQL 12 the scan is skipped when a valid CHECK constraint already proves the
    column is not null. In one migration add `CONSTRAINT "T_c_not_null" CHECK ("c" IS NOT NULL)
    NOT VALID` (instant); in the next, `VALIDATE CONSTRAINT` it (a scan that lets reads and
    writes go on), then `SET NOT NULL` and drop the check. A migration that validates such a
    constraint, or adds a validated one, before SET NOT NULL is not reported. Tables created or
    emptied (TRUNCATE) earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, NullTestType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import Statement, iter_nodes, required_node


@rule(
    "set-not-null",
    severity="warning",
    family="locking",
    help="Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL.",
)
def set_not_null(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_SetNotNull):
        table = altered_table(statement)
        if context.is_empty_table(table, statement) or _proven_not_null(context, statement, table.relname, command.name):
            continue
        yield Violation(
            f"SET NOT NULL on {relation_name(table)}.{quoted(command.name)} scans the table under an ACCESS EXCLUSIVE lock",
            statement,
        )


def _proven_not_null(context: LintContext, at: Statement, table: str | None, column: str | None) -> bool:
    """Whether an earlier statement leaves a valid constraint on `table` that can prove `column` is not null."""
    for statement, command in context.alter_commands(AlterTableType.AT_ValidateConstraint, AlterTableType.AT_AddConstraint):
        if context.order(statement) >= context.order(at):
            break
        if altered_table(statement).relname != table:
            continue
        if command.subtype == AlterTableType.AT_ValidateConstraint:
            return True
        constraint = required_node(command.def_, ast.Constraint)
        if constraint.contype == ConstrType.CONSTR_CHECK and not constraint.skip_validation and _checks_not_null(constraint, column):
            return True
    return False


def _checks_not_null(constraint: ast.Constraint, column: str | None) -> bool:
    return any(
        isinstance(node, ast.NullTest)
        and node.nulltesttype == NullTestType.IS_NOT_NULL
        and isinstance(node.arg, ast.ColumnRef)
        and node.arg.fields
        and isinstance(node.arg.fields[-1], ast.String)
        and node.arg.fields[-1].sval == column
        for node in iter_nodes(constraint.raw_expr)
    )
