"""ALTER TABLE … ADD COLUMN … NOT NULL without a DEFAULT fails on a table that has rows.

Problem:
    PostgreSQL fills a new column with its default, NULL when there is none, so a NOT NULL column
    without a DEFAULT fails with 23502 (column contains null values) as soon as the table has a
    row. It passes in development, on an empty table, and fails in production. Prisma warns about
    it ("Added the required column … without a default value") but still writes the migration.

Solution:
    Give the column a default (`ADD COLUMN "tier" TEXT NOT NULL DEFAULT 'basic'`; a constant
    default costs no table rewrite since PostgreSQL 11), or add it nullable, backfill it, and
    set NOT NULL in a later migration. Identity, serial and generated columns fill themselves
    and are not reported. Tables created or emptied (TRUNCATE) earlier in the same migration are
    not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import SERIAL_TYPES, altered_table, column_constraints, quoted, relation_name, type_name
from service.analysis.lint.registry import rule


@rule(
    "add-not-null-without-default",
    severity="error",
    family="danger",
    help="Add a DEFAULT, or add the column nullable, backfill it, then SET NOT NULL later.",
)
def add_not_null_without_default(context: LintContext) -> Iterator[Violation]:
    for statement, column in context.added_columns():
        table = altered_table(statement)
        if context.is_empty_table(table, statement):
            continue
        required = column.is_not_null or column_constraints(column, ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY)
        fills_itself = type_name(column.typeName) in SERIAL_TYPES or column_constraints(
            column, ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED
        )
        if required and not fills_itself:
            yield Violation(
                f"ADD COLUMN {quoted(column.colname)} NOT NULL without a DEFAULT fails (23502) if {relation_name(table)} has rows",
                statement,
                node=column,
            )
