"""DELETE without WHERE deletes every row of a table.

Problem:
    A DELETE with no WHERE clause empties the table, row by row, holding row locks on all of them
    until the migration commits. It is almost always a mistake in a migration, and once committed
    only a snapshot restore brings the rows back.

Solution:
    Add the WHERE clause that picks the rows you mean to delete. If the table really must be
    emptied, do it by hand with a fresh backup, or say so with `-- deploy-gate-ignore delete-
    without-where`. Tables created or emptied (TRUNCATE) earlier in the same migration are not
    reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule


@rule("delete-without-where", severity="error", family="danger", help="Add a WHERE clause that picks the rows to delete.")
def delete_without_where(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DeleteStmt):
        if node.whereClause is None and not context.is_empty_table(node.relation, statement):
            yield Violation(f"DELETE without WHERE deletes every row of {relation_name(node.relation)}", statement)
