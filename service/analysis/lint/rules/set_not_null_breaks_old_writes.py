"""ALTER COLUMN … SET NOT NULL breaks the running application's writes that leave the column NULL.

Problem:
    The previous release, still running during the deploy, was built for an optional field. Once
    the migration commits, its inserts that leave the column out fail with 23502 (unless the
    column has a default) and so do its writes of NULL (Prisma Client's `field: null`), until
    the new release is fully out, or again after the application is rolled back. A backfill in
    the same migration does not help: the old release writes new NULLs after it. This is the
    deploy-window side of `set-not-null`, which is about the lock.

Solution:
    Expand and contract: release code that always writes a value (and backfill the rows it left
    NULL), then set NOT NULL in a later migration. A DEFAULT set on the column in the same
    migration keeps inserts that leave it out working, and is said in the message; writes of
    NULL still fail. Tables and columns created earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "set-not-null-breaks-old-writes",
    severity="warning",
    family="backward-compatibility",
    help="Release code that always writes the column and backfill it first; SET NOT NULL in a later migration.",
)
def set_not_null_breaks_old_writes(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_SetNotNull):
        table = altered_table(statement)
        if context.is_new_table(table, statement) or context.created_earlier("column", command.name, statement, parent=table.relname):
            continue
        column = f"{relation_name(table)}.{quoted(command.name)}"
        defaulted = any(
            effect.parent == table.relname and (effect.detail or "").startswith("SET DEFAULT") and not context.after(effect, statement)
            for effect in context.effects_named("alter", "column", command.name)
        )
        if defaulted:
            yield Violation(f"SET NOT NULL on {column}: the running application's writes of NULL to it fail (23502)", statement)
        else:
            yield Violation(f"SET NOT NULL on {column}: the running application's inserts that leave it out, and its writes of NULL, fail (23502)", statement)
