"""ALTER TABLE … RENAME TO breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, every query of the running application that names the old
    table fails with 42P01 (relation does not exist), until the new release is fully out. Prisma
    maps models to table names, so an old Prisma Client fails on every use of the model. The rename
    also takes an ACCESS EXCLUSIVE lock.

Solution:
    Rename in steps: create the new table (or a view with the new name over the old table), release
    code that uses the new name, move the data, then drop the old one in a later migration. In
    Prisma, `@@map("OldName")` lets a model take a new name without renaming the table at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "rename-table",
    severity="warning",
    family="danger",
    help="Keep the table name (Prisma @@map) or rename in steps behind a view; old code still uses it.",
)
def rename_table(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt):
        if node.renameType == ObjectType.OBJECT_TABLE and not context.is_new_table(node.relation, statement):
            yield Violation(
                f"renaming {relation_name(node.relation)} to {quoted(node.newname)} breaks queries of the running application",
                statement,
            )
