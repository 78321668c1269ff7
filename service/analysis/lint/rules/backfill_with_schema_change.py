"""Data changes run after a blocking lock in the same migration, keeping the table locked throughout.

Problem:
    Prisma runs the whole file as one transaction, and PostgreSQL holds every lock until the
    transaction ends. An UPDATE, INSERT or DELETE that comes after an ALTER TABLE (or another
    statement taking a strong lock) therefore runs with that lock held: a backfill of a million
    rows after an `ADD COLUMN` blocks the table for the whole backfill instead of a millisecond.

Solution:
    Put the schema change in one migration and the data change in the next (or backfill in
    batches outside the migrations). Changes to tables created or emptied (TRUNCATE) earlier in
    the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule


@rule(
    "backfill-with-schema-change",
    severity="warning",
    family="locking",
    help="Move the data change to its own migration, after the one that changes the schema.",
)
def backfill_with_schema_change(context: LintContext) -> Iterator[Violation]:
    held = None
    for statement, locks in context.locks:
        node = statement.node
        if held and isinstance(node, (ast.UpdateStmt, ast.InsertStmt, ast.DeleteStmt, ast.MergeStmt)):
            if not context.is_empty_table(node.relation, statement):
                lock, line = held
                kind = type(node).__name__.removesuffix("Stmt").upper()
                yield Violation(
                    f"{kind} on {relation_name(node.relation)} runs while {lock.table} is still locked in {lock.mode_name} mode "
                    f"(taken at line {line}, held until the migration commits)",
                    statement,
                )
        elif not held and locks:
            held = locks[0], statement.position.line
