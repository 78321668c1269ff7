"""A primary key added to an existing table builds its index and checks NOT NULL under an ACCESS EXCLUSIVE lock.

Problem:
    `ALTER TABLE … ADD PRIMARY KEY (…)` (and `ADD COLUMN … PRIMARY KEY`) builds a unique index and
    scans for NULLs while holding an ACCESS EXCLUSIVE lock, which blocks reads and writes for the
    whole build. It fails with 23505 on duplicates and 23502 on NULLs.

Solution:
    Build the index first without blocking writes, alone in its own migration: `CREATE UNIQUE
    INDEX CONCURRENTLY "T_pkey" ON "T" ("id");`, make sure the columns are NOT NULL (see set-
    not-null), then `ALTER TABLE "T" ADD CONSTRAINT "T_pkey" PRIMARY KEY USING INDEX "T_pkey";`.
    Tables created or emptied (TRUNCATE) earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, column_constraints, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "add-primary-key",
    severity="warning",
    family="locking",
    help="CREATE UNIQUE INDEX CONCURRENTLY in its own migration, then ADD CONSTRAINT … PRIMARY KEY USING INDEX.",
)
def add_primary_key(context: LintContext) -> Iterator[Violation]:
    for statement, constraint in context.added_constraints():
        table = altered_table(statement)
        if constraint.contype == ConstrType.CONSTR_PRIMARY and not constraint.indexname and not context.is_empty_table(table, statement):
            yield Violation(f"adding a primary key to {relation_name(table)} builds its index under an ACCESS EXCLUSIVE lock", statement, node=constraint)
    for statement, column in context.added_columns():
        table = altered_table(statement)
        if column_constraints(column, ConstrType.CONSTR_PRIMARY) and not context.is_empty_table(table, statement):
            yield Violation(
                f"ADD COLUMN {quoted(column.colname)} … PRIMARY KEY builds an index on {relation_name(table)} under an ACCESS EXCLUSIVE lock",
                statement,
                node=column,
            )
