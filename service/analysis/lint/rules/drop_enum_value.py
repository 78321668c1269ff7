"""A column moved to an enum type created in the same migration loses the labels it leaves out.

Problem:
    PostgreSQL cannot drop an enum label, so Prisma removes one by creating the enum again
    without it and moving every column to the new type (`CREATE TYPE "Role_new" AS ENUM (…)`,
    `ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new")`, then renames). Rows
    that hold a removed label fail that cast (22P02) and the migration with them; and once it
    commits, the running application's writes of a removed label fail with 22P02 until the new
    release is fully out, or again after a rollback of the application. Moving a text column to
    a new enum narrows it the same way.

Solution:
    Expand and contract: release code that no longer writes the label, move the rows that hold
    it (`UPDATE … SET "role" = 'USER' WHERE "role" = 'GUEST'`), and only then remove it in a later
    migration. Tables and columns created earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of, required, required_node


@rule(
    "drop-enum-value",
    severity="warning",
    family="backward-compatibility",
    help="Release code that no longer writes the label and move its rows first; remove the label in a later migration.",
)
def drop_enum_value(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_AlterColumnType):
        table = altered_table(statement)
        if context.is_new_table(table, statement) or context.created_earlier("column", command.name, statement, parent=table.relname):
            continue
        names = names_of(required(required_node(command.def_, ast.ColumnDef).typeName).names)
        if not names:
            continue
        schema, type_name = (names[-2] if len(names) > 1 else None), names[-1]
        created = [
            effect
            for effect in context.effects_named("create", "type", type_name)
            if effect.labels and context.before(effect, statement) and (schema is None or effect.schema in (None, schema))
        ]
        if not created:
            continue
        labels = ", ".join(f"'{label}'" for label in created[-1].labels)
        yield Violation(
            f"{relation_name(table)}.{quoted(command.name)} moves to the new enum {quoted(*names)} ({labels}): any other value fails "
            "the cast here and the running application's writes (22P02)",
            statement,
        )
