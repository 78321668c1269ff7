"""DROP TABLE deletes the table and every row in it.

Problem:
    A dropped table cannot be brought back from the migration: its rows are gone, and so is every
    index, constraint and trigger on it. The application version still running during the deploy
    fails on every query that touches it. Only restoring a snapshot undoes it.

Solution:
    Stop the application using the table first, and release that. Keep the data until you are sure:
    rename the table (`ALTER TABLE "Old" RENAME TO "Old_archived_20240101"`) or copy it out, and
    drop it in a later migration. When the drop is intended, say so with
    `-- deploy-gate-ignore drop-table` on the statement. Tables created earlier in the same
    migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import dropped_names, quoted, range_var
from service.analysis.lint.registry import rule


@rule(
    "drop-table",
    severity="error",
    family="danger",
    help="Release code that no longer uses the table first, and keep its data (rename or copy) until you are sure.",
)
def drop_table(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        if node.removeType != ObjectType.OBJECT_TABLE:
            continue
        for names in dropped_names(node):
            if not context.is_new_table(range_var(names), statement):
                yield Violation(f"DROP TABLE {quoted(*names)} deletes the table and all of its rows", statement)
