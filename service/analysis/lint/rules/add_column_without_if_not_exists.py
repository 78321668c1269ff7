"""ALTER TABLE … ADD COLUMN without IF NOT EXISTS fails when the migration runs a second time.

Problem:
    A retried migration meets the column its first run added and fails with 42701 (column already
    exists), so a failed deploy cannot simply be run again.

Solution:
    Write `ALTER TABLE "T" ADD COLUMN IF NOT EXISTS "c" …`. Note that IF NOT EXISTS only checks the
    name: a column of the same name but another type is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_COLUMN, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import required_node


@rule(
    "add-column-without-if-not-exists",
    severity="warning",
    family="idempotency",
    help="Write ADD COLUMN IF NOT EXISTS so a retried migration does not fail with 42701.",
)
def add_column_without_if_not_exists(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_AddColumn):
        if command.missing_ok or guarded_against(statement, DUPLICATE_COLUMN):
            continue
        column = required_node(command.def_, ast.ColumnDef)
        yield Violation(
            f"ADD COLUMN {quoted(column.colname)} to {relation_name(altered_table(statement))} fails if the column already exists"
            f"{missed_by_handlers(statement, DUPLICATE_COLUMN)}",
            statement,
            node=column,
        )
