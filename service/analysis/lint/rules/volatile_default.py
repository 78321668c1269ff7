"""ADD COLUMN with a volatile default rewrites the whole table under an ACCESS EXCLUSIVE lock.

Problem:
    Since PostgreSQL 11, adding a column with a constant or stable default (`0`, `'basic'`,
    `now()`, `CURRENT_TIMESTAMP`) only records the default: it is instant. A volatile default,
    one that differs per row (`gen_random_uuid()`, `uuid_generate_v4()`, `random()`,
    `clock_timestamp()`, `nextval(…)`, which is what `serial` and identity columns use), must be
    computed for every existing row, and so must a stored generated column: PostgreSQL rewrites
    the table and its indexes while holding an ACCESS EXCLUSIVE lock, blocking reads and writes
    for the whole rewrite.

Solution:
    Add the column without the default (or with a constant one), set the volatile default with
    `ALTER COLUMN … SET DEFAULT` (applies to new rows only), and backfill existing rows in
    batches outside the migration. For a generated column, add a plain column kept up to date by
    a trigger and backfilled in batches. Tables created or emptied (TRUNCATE) earlier in the
    same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import SERIAL_TYPES, altered_table, column_constraints, function_names, quoted, relation_name, type_name
from service.analysis.lint.registry import rule

VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "random_normal",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "clock_timestamp",
        "timeofday",
        "nextval",
    }
)


@rule(
    "volatile-default",
    severity="warning",
    family="locking",
    help="Add the column without it, SET DEFAULT for new rows, and backfill existing rows in batches.",
)
def volatile_default(context: LintContext) -> Iterator[Violation]:
    for statement, column in context.added_columns():
        table = altered_table(statement)
        if context.is_empty_table(table, statement):
            continue
        reason = _volatile_value(column)
        if reason:
            yield Violation(
                f"ADD COLUMN {quoted(column.colname)} {reason}, so every row of {relation_name(table)} is rewritten under an ACCESS EXCLUSIVE lock",
                statement,
                node=column,
            )


def _volatile_value(column: ast.ColumnDef) -> str | None:
    kind = type_name(column.typeName)
    if kind in SERIAL_TYPES:
        return f"is {kind}, whose default nextval() differs per row"
    if column_constraints(column, ConstrType.CONSTR_IDENTITY):
        return "is an identity column, numbered row by row"
    if column_constraints(column, ConstrType.CONSTR_GENERATED):
        return "is a stored generated column, computed row by row"
    for default in column_constraints(column, ConstrType.CONSTR_DEFAULT):
        volatile = sorted(set(function_names(default.raw_expr) if default.raw_expr is not None else ()) & VOLATILE_FUNCTIONS)
        if volatile:
            return f"has a default calling {volatile[0]}(), which differs per row"
    return None
