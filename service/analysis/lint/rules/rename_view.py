"""ALTER VIEW … RENAME TO breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, every query of the running application that names the old
    view fails with 42P01 (relation does not exist): a Prisma `view` model, or raw SQL.
    `rename-table` covers tables only.

Solution:
    Keep the name and map the model (`@@map("old_name")` in Prisma), or rename in steps: create
    the view under its new name beside the old one, release code that reads the new one, then
    drop the old one in a later migration. Views created earlier in the same migration, and a
    rename whose old name is taken again later in the file, are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule

_KINDS = {ObjectType.OBJECT_VIEW: "view", ObjectType.OBJECT_MATVIEW: "materialized_view"}
_RELATION_KINDS = ("view", "materialized_view", "table")


@rule(
    "rename-view",
    severity="warning",
    family="backward-compatibility",
    help="Keep the view's name (Prisma @@map), or create the new one beside it and drop the old one later.",
)
def rename_view(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt):
        kind = _KINDS.get(node.renameType) if node.renameType is not None else None
        view = node.relation
        if kind is None or view is None:
            continue
        if context.created_earlier(kind, view.relname, statement, schema=view.schemaname):
            continue
        if context.comes_back_later(_RELATION_KINDS, view.relname, statement, view.schemaname):
            continue
        label = kind.replace("_", " ")
        yield Violation(
            f"renaming {label} {relation_name(view)} to {quoted(node.newname)} breaks the running application's queries of it (42P01)",
            statement,
        )
