"""DROP SCHEMA deletes the schema, and with CASCADE everything in it.

Problem:
    Dropping a schema drops every table, type and function it holds when CASCADE is given, and
    fails (2BP01) when it is not empty otherwise. Either way it is rarely what a deploy should do,
    and nothing but a snapshot restore brings the data back.

Solution:
    Drop the objects you mean to drop explicitly, one statement each, after the application stops
    using them. If the schema really must go, do it by hand, outside the deploy, with a fresh backup.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior, ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import dropped_names, quoted
from service.analysis.lint.registry import rule


@rule(
    "drop-schema",
    severity="error",
    family="danger",
    help="Drop the objects you mean to drop one by one; drop a whole schema by hand with a fresh backup.",
)
def drop_schema(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        if node.removeType != ObjectType.OBJECT_SCHEMA:
            continue
        cascade = " and everything in it" if node.behavior == DropBehavior.DROP_CASCADE else ""
        for (name,) in dropped_names(node):
            if not context.created_earlier("schema", name, statement):
                yield Violation(f"DROP SCHEMA {quoted(name)} deletes the schema{cascade}", statement)
