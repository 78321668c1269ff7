"""DROP VIEW or DROP MATERIALIZED VIEW removes a relation the running application may still read.

Problem:
    The application version still running during the deploy fails with 42P01 (relation does not
    exist) on every query of the view: a Prisma `view` model, or raw SQL. `drop-table` covers
    tables only.

Solution:
    To change a view's query, `CREATE OR REPLACE VIEW` (same columns, new ones at the end), or
    drop and create it again in the same migration, which the running application never sees
    missing. To retire it, release code that no longer reads it, then drop it in a later
    migration. Views created earlier in the same migration, and a view created again under the
    same name later in the file (without CASCADE), are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior, ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import dropped_names, quoted
from service.analysis.lint.registry import rule

_KINDS = {ObjectType.OBJECT_VIEW: "view", ObjectType.OBJECT_MATVIEW: "materialized_view"}
# A view may come back as a materialized view and the other way round: the name is what queries use.
_RELATION_KINDS = ("view", "materialized_view", "table")


@rule(
    "drop-view",
    severity="warning",
    family="backward-compatibility",
    help="Replace the view in the same migration (CREATE OR REPLACE VIEW), or release code that no longer reads it first.",
)
def drop_view(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        kind = _KINDS.get(node.removeType) if node.removeType is not None else None
        if kind is None:
            continue
        cascade = node.behavior == DropBehavior.DROP_CASCADE
        for names in dropped_names(node):
            schema, name = (names[-2] if len(names) > 1 else None), names[-1]
            if context.created_earlier(kind, name, statement, schema=schema):
                continue
            if not cascade and context.comes_back_later(_RELATION_KINDS, name, statement, schema):
                continue
            also = ", and CASCADE drops the views built on it" if cascade else ""
            label = kind.replace("_", " ").upper()
            yield Violation(f"DROP {label} {quoted(*names)} breaks the running application's queries of it (42P01){also}", statement)
