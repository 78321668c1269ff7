"""A foreign key added to an existing table without NOT VALID scans it while blocking writes to both tables.

Problem:
    `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY` checks every existing row against the referenced
    table while holding SHARE ROW EXCLUSIVE locks on both tables, so neither accepts writes until
    the scan ends. `ADD COLUMN … REFERENCES` does the same. Prisma writes every relation this way.

Solution:
    Add the constraint with `NOT VALID` (no scan: only new rows are checked), then run `ALTER
    TABLE … VALIDATE CONSTRAINT …` in a later migration; validation takes a lock that lets reads
    and writes go on. For a new column, add the column first and the constraint second. Tables
    created or emptied (TRUNCATE) earlier in the same migration are not reported: they are
    empty.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, column_constraints, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "add-foreign-key-without-not-valid",
    severity="warning",
    family="locking",
    help="Add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration.",
)
def add_foreign_key_without_not_valid(context: LintContext) -> Iterator[Violation]:
    for statement, constraint in context.added_constraints():
        table = altered_table(statement)
        if constraint.contype != ConstrType.CONSTR_FOREIGN or constraint.skip_validation or context.is_empty_table(table, statement):
            continue
        name = quoted(constraint.conname) if constraint.conname else "a foreign key"
        yield Violation(
            f"adding {name} to {relation_name(table)} checks every row while blocking writes to it and to {relation_name(constraint.pktable)}",
            statement,
            node=constraint,
        )
    for statement, column in context.added_columns():
        if context.is_empty_table(altered_table(statement), statement):
            continue
        for constraint in column_constraints(column, ConstrType.CONSTR_FOREIGN):
            yield Violation(
                f"ADD COLUMN {quoted(column.colname)} … REFERENCES {relation_name(constraint.pktable)} validates "
                f"the foreign key while blocking writes to both tables",
                statement,
                node=constraint,
                help="Add the column without REFERENCES, then ADD CONSTRAINT … FOREIGN KEY … NOT VALID and VALIDATE it later.",
            )
