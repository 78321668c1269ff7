"""ALTER COLUMN … DROP NOT NULL lets NULL in where the running application's code cannot read it.

Problem:
    The migration itself is safe: no existing row or write breaks. The break comes with the first
    NULL the new release writes: the previous release, still running during the deploy, was
    built for a required field, and its Prisma Client fails every query that returns such a row
    (P2032, "Error converting field … of expected non-nullable type"), as does code that assumes
    a value. Rolling the application back to that release after NULLs were written breaks the
    same way, and the rollback of this migration (`SET NOT NULL`) then fails with 23502.

Solution:
    Relax the column together with the release that reads it as optional, and write NULL only
    from the release after, once no instance of the old one is left. When the new release
    writes no NULL right away, or nothing reads the column, this finding needs no action. Tables
    and columns created earlier in the same migration are not reported. This is squawk's
    `ban-drop-not-null`, at info level: the hazard is in the code that follows, not in the SQL.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "drop-not-null",
    severity="info",
    family="backward-compatibility",
    help="Write NULL to the column only from the release after the one that reads it as optional.",
)
def drop_not_null(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_DropNotNull):
        table = altered_table(statement)
        if context.is_new_table(table, statement) or context.created_earlier("column", command.name, statement, parent=table.relname):
            continue
        yield Violation(
            f"DROP NOT NULL on {relation_name(table)}.{quoted(command.name)}: once NULL is written, the running application's "
            "Prisma Client fails reading those rows (P2032)",
            statement,
        )
