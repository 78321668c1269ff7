"""ALTER TABLE … ALTER COLUMN … TYPE rewrites the table under an ACCESS EXCLUSIVE lock.

Problem:
    Changing a column's type rewrites every row and rebuilds every index on the table while holding
    an ACCESS EXCLUSIVE lock, which blocks reads as well as writes for the whole rewrite. Only a few
    changes skip the rewrite (widening a `varchar(n)`, `varchar` to `text`). The cast can also fail
    on values that do not convert (22P02, 22001), which passes on development data and fails in
    production, and a narrowing cast can lose precision. The running application may break on the
    new type as well.

Solution:
    Add a new column of the new type, write to both from the application, backfill in batches,
    switch reads, then drop the old column in a later migration. When the change is one that
    needs no rewrite, or the table is small, say so with `-- deploy-gate-ignore column-type-
    change`. Tables created or emptied (TRUNCATE) earlier in the same migration are not
    reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import deparse, required, required_node


@rule(
    "column-type-change",
    severity="warning",
    family="locking",
    help="Add a column of the new type, backfill it in batches, switch over, then drop the old one.",
)
def column_type_change(context: LintContext) -> Iterator[Violation]:
    for statement, command in context.alter_commands(AlterTableType.AT_AlterColumnType):
        table = altered_table(statement)
        if context.is_empty_table(table, statement):
            continue
        new_type = deparse(required(required_node(command.def_, ast.ColumnDef).typeName))
        yield Violation(
            f"changing {relation_name(table)}.{quoted(command.name)} to {new_type} rewrites the table under an ACCESS EXCLUSIVE lock",
            statement,
        )
