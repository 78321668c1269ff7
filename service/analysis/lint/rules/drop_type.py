"""DROP TYPE or DROP DOMAIN removes a type the running application may still name.

Problem:
    The application version still running during the deploy fails with 42704 (type does not
    exist) on every query that names the type. Prisma Client names an enum's type in the casts
    of its queries (`CAST($1::text AS "public"."Role")`), and raw SQL and functions cast to
    types too. With CASCADE, PostgreSQL also drops every column of that type, with its data,
    and every function that takes it.

Solution:
    Expand and contract: release code that no longer uses the type (in Prisma, no field of that
    enum), then drop the type in a later migration, without CASCADE, so that PostgreSQL refuses
    (2BP01) while anything still depends on it. Types created earlier in the same migration,
    the `_old` type of Prisma's enum replacement (renamed away earlier in the file), and a type
    created again under the same name later in the file (without CASCADE) are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior, ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import dropped_names, quoted
from service.analysis.lint.registry import rule

_KINDS = {ObjectType.OBJECT_TYPE: "type", ObjectType.OBJECT_DOMAIN: "domain"}
# ALTER TYPE and DROP TYPE take domains too: a name is a type whichever statement made it.
_TYPE_KINDS = ("type", "domain")


@rule(
    "drop-type",
    severity="warning",
    family="backward-compatibility",
    help="Release code that no longer uses the type first, then drop it (without CASCADE) in a later migration.",
)
def drop_type(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        kind = _KINDS.get(node.removeType) if node.removeType is not None else None
        if kind is None:
            continue
        cascade = node.behavior == DropBehavior.DROP_CASCADE
        for names in dropped_names(node):
            schema, name = (names[-2] if len(names) > 1 else None), names[-1]
            if any(context.created_earlier(k, name, statement, schema=schema) or context.renamed_to_earlier(k, name, statement) for k in _TYPE_KINDS):
                continue
            if not cascade and context.comes_back_later(_TYPE_KINDS, name, statement, schema):
                continue
            also = ", and CASCADE drops every column of that type with its data" if cascade else ""
            yield Violation(f"DROP {kind.upper()} {quoted(*names)} breaks the running application's queries that name it (42704){also}", statement)
