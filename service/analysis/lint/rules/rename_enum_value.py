"""ALTER TYPE … RENAME VALUE breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, the running application's writes of the old label fail
    with 22P02 (invalid input value for enum), and its Prisma Client fails on every row that
    holds the new label, which it does not know ("Value … not found in enum"). Both last until
    the new release is fully out, and come back if the application is rolled back.

Solution:
    Expand and contract: add the new label (`ADD VALUE`) in one migration, release code that
    writes the new label and reads both, move the rows over (`UPDATE … SET "status" = 'NEW'
    WHERE "status" = 'OLD'`), and retire the old label once nothing writes it. Or keep the label
    in the database and map it (`@map("OLD")` on the enum value in Prisma). Types created
    earlier in the same migration, and labels added earlier in it, are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of


@rule(
    "rename-enum-value",
    severity="warning",
    family="backward-compatibility",
    help="Add the new label, move rows and code over to it, and retire the old one later; or map it (Prisma @map).",
)
def rename_enum_value(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.AlterEnumStmt):
        if not node.oldVal:
            continue
        names = names_of(node.typeName)
        if not names:
            continue
        schema, type_name = (names[-2] if len(names) > 1 else None), names[-1]
        if context.created_earlier("type", type_name, statement, schema=schema):
            continue
        if context.created_earlier("enum_value", node.oldVal, statement, parent=type_name):
            continue
        yield Violation(
            f"renaming '{node.oldVal}' of {quoted(*names)} to '{node.newVal}' breaks the running application: its writes of "
            f"'{node.oldVal}' fail (22P02) and its Prisma Client fails on rows holding '{node.newVal}'",
            statement,
        )
