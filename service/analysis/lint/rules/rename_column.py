"""ALTER TABLE … RENAME COLUMN breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, every query of the running application that names the old
    column fails with 42703 (column does not exist), until the new release is fully out. Prisma
    selects every scalar field by name, so an old Prisma Client fails on any read of the table.

Solution:
    Keep the column name and map the field (`@map("old_name")` in Prisma), or rename in steps: add
    the new column, write to both, backfill, release code that reads the new one, then drop the old
    column in a later migration.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import required


@rule(
    "rename-column",
    severity="warning",
    family="danger",
    help="Keep the column name (Prisma @map) or add a new column and move to it in steps.",
)
def rename_column(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt):
        if node.renameType != ObjectType.OBJECT_COLUMN or node.relationType != ObjectType.OBJECT_TABLE:
            continue
        table = required(node.relation)
        if context.is_new_table(table, statement) or context.created_earlier("column", node.subname, statement, parent=table.relname):
            continue
        yield Violation(
            f"renaming {relation_name(node.relation)}.{quoted(node.subname)} to {quoted(node.newname)} breaks queries of the running application",
            statement,
        )
