"""UPDATE without WHERE rewrites every row of a table in one transaction.

Problem:
    An UPDATE with no WHERE clause writes a new version of every row and holds a row lock on each
    until the migration commits, so every write the application makes to the table waits for the
    whole update; on a large table that is minutes of blocked writes, and twice the table's size in
    dead rows for vacuum. It also overwrites values the application wrote, if that was not meant.

Solution:
    Add a WHERE that picks only the rows that need the change (`WHERE "tier" IS NULL`), which
    also makes the statement safe to re-run. Backfill a large table in batches outside the
    migration. Tables created or emptied (TRUNCATE) earlier in the same migration are not
    reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule


@rule(
    "update-without-where",
    severity="warning",
    family="danger",
    help="Add a WHERE that picks only the rows needing the change; backfill large tables in batches.",
)
def update_without_where(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.UpdateStmt):
        if node.whereClause is None and not context.is_empty_table(node.relation, statement):
            yield Violation(f"UPDATE without WHERE rewrites every row of {relation_name(node.relation)}", statement)
