"""ALTER TYPE … RENAME TO breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, every query of the running application that names the old
    type fails with 42704 (type does not exist). Prisma Client names an enum's type in the casts
    of its queries (`CAST($1::text AS "public"."Role")`), so every write of an enum field, and
    every filter on one, fails until the new release is fully out. Domains renamed with ALTER
    DOMAIN break raw SQL that casts to them the same way.

Solution:
    Keep the type's name and map the enum (`@@map("OldName")` in Prisma lets the enum take a new
    name in the schema without renaming the type). Types created earlier in the same migration,
    and a rename whose old name is taken again later in the file (Prisma's enum replacement
    renames the old type away and the new one to its name), are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of

_KINDS = {ObjectType.OBJECT_TYPE: "type", ObjectType.OBJECT_DOMAIN: "domain"}
# ALTER TYPE and DROP TYPE take domains too: a name is a type whichever statement made it.
_TYPE_KINDS = ("type", "domain")


@rule(
    "rename-type",
    severity="warning",
    family="backward-compatibility",
    help="Keep the type's name (Prisma @@map on the enum); the running application's queries name it.",
)
def rename_type(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt):
        kind = _KINDS.get(node.renameType) if node.renameType is not None else None
        if kind is None or not isinstance(node.object, tuple):
            continue
        names = names_of(node.object)
        if not names:
            continue
        schema, name = (names[-2] if len(names) > 1 else None), names[-1]
        if any(context.created_earlier(k, name, statement, schema=schema) for k in _TYPE_KINDS) or context.comes_back_later(
            _TYPE_KINDS, name, statement, schema
        ):
            continue
        yield Violation(
            f"renaming {kind} {quoted(*names)} to {quoted(node.newname)} breaks the running application's queries that name it (42704)",
            statement,
        )
