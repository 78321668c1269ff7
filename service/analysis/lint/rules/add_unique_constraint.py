"""A UNIQUE constraint added to an existing table builds its index under an ACCESS EXCLUSIVE lock.

Problem:
    `ALTER TABLE … ADD CONSTRAINT … UNIQUE (…)` (and `ADD COLUMN … UNIQUE`) builds a unique index
    while holding an ACCESS EXCLUSIVE lock, which blocks reads and writes for the whole build. It
    fails with 23505 if existing rows hold duplicates.

Solution:
    Build the index first without blocking writes, alone in its own migration: `CREATE UNIQUE
    INDEX CONCURRENTLY "T_c_key" ON "T" ("c");`, then, in the next migration, `ALTER TABLE "T"
    ADD CONSTRAINT "T_c_key" UNIQUE USING INDEX "T_c_key";`, which is instant. Prisma's
    `@unique` already creates a unique index rather than a constraint. Tables created or emptied
    (TRUNCATE) earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, column_constraints, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "add-unique-constraint",
    severity="warning",
    family="locking",
    help="CREATE UNIQUE INDEX CONCURRENTLY in its own migration, then ADD CONSTRAINT … UNIQUE USING INDEX.",
)
def add_unique_constraint(context: LintContext) -> Iterator[Violation]:
    for statement, constraint in context.added_constraints():
        table = altered_table(statement)
        if constraint.contype == ConstrType.CONSTR_UNIQUE and not constraint.indexname and not context.is_empty_table(table, statement):
            name = quoted(constraint.conname) if constraint.conname else "a UNIQUE constraint"
            yield Violation(f"adding {name} to {relation_name(table)} builds its index under an ACCESS EXCLUSIVE lock", statement, node=constraint)
    for statement, column in context.added_columns():
        table = altered_table(statement)
        if column_constraints(column, ConstrType.CONSTR_UNIQUE) and not context.is_empty_table(table, statement):
            yield Violation(
                f"ADD COLUMN {quoted(column.colname)} … UNIQUE builds an index on {relation_name(table)} under an ACCESS EXCLUSIVE lock",
                statement,
                node=column,
            )
