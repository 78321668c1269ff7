"""ALTER COLUMN … DROP DEFAULT (or DROP IDENTITY) takes away a value the running application relies on.

Problem:
    The previous release, still running during the deploy, leaves out of its inserts the columns
    whose values the database supplies: Prisma Client omits a field with a database default
    (`@default(autoincrement())`, `@default(now())`, `@default("draft")`) when the code gives
    none. Once the default is gone, those inserts store NULL, or fail with 23502 when the column
    is NOT NULL, as an id is. The same holds for an identity column that stops generating.

Solution:
    Expand and contract: release code that always gives the column a value, then drop the default
    in a later migration. Prisma's own enum replacement drops a default and sets it again in the
    same migration; a default set again later in the file is not reported, nor are tables and
    columns created earlier in the same migration.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "drop-column-default",
    severity="warning",
    family="backward-compatibility",
    help="Release code that always gives the column a value first, then drop the default in a later migration.",
)
def drop_column_default(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_ColumnDefault, AlterTableType.AT_DropIdentity):
        dropping_default = command.subtype == AlterTableType.AT_ColumnDefault
        if dropping_default and command.def_ is not None:
            continue  # SET DEFAULT
        table = altered_table(statement)
        if context.is_new_table(table, statement) or context.created_earlier("column", command.name, statement, parent=table.relname):
            continue
        if dropping_default and any(
            effect.parent == table.relname and (effect.detail or "").startswith("SET DEFAULT") and context.after(effect, statement)
            for effect in context.effects_named("alter", "column", command.name)
        ):
            continue
        what = "DROP DEFAULT" if dropping_default else "DROP IDENTITY"
        yield Violation(
            f"{what} on {relation_name(table)}.{quoted(command.name)}: the running application's inserts that leave it out "
            "store NULL, or fail (23502) if it is NOT NULL",
            statement,
        )
