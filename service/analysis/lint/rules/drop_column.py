"""ALTER TABLE … DROP COLUMN deletes the column's data and breaks code that still reads it.

Problem:
    The column's values are gone for good, and the application version still running during the
    deploy fails on every query that names the column (42703). Prisma selects every scalar field
    by name, so an old Prisma Client breaks on any read of the table, not only on that field.
    Only restoring a snapshot brings the data back.

Solution:
    Release the application without the field first (in Prisma, remove it from the schema and
    deploy the client), then drop the column in a later migration. When the drop is intended, say
    so with `-- deploy-gate-ignore drop-column`. Columns of tables created earlier in the same
    migration, and columns added earlier in it, are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "drop-column",
    severity="error",
    family="danger",
    help="Release code that no longer uses the column first, then drop it in a later migration.",
)
def drop_column(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_DropColumn):
        table = altered_table(statement)
        if context.is_new_table(table, statement):
            continue
        if context.created_earlier("column", command.name, statement, parent=table.relname):
            continue
        yield Violation(f"DROP COLUMN {quoted(command.name)} deletes every value of {relation_name(table)}.{quoted(command.name)}", statement)
