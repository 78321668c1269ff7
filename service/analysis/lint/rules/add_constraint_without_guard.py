"""ALTER TABLE … ADD CONSTRAINT fails when the migration runs a second time.

Problem:
    PostgreSQL has no `ADD CONSTRAINT IF NOT EXISTS`. A retried migration meets the constraint its
    first run added and fails: 42710 (duplicate_object) for a foreign key or CHECK, 42P07
    (duplicate_table) for a UNIQUE or EXCLUDE constraint, whose index already exists, and 42P16 for
    a second primary key. Prisma adds every foreign key this way. A DO block whose handler catches
    the wrong one (`WHEN duplicate_object` around a UNIQUE constraint) does not help.

Solution:
    Drop it first in the same migration, `ALTER TABLE "T" DROP CONSTRAINT IF EXISTS "k";`, or add it
    in a DO block that checks `pg_constraint`, or catches the error the second run raises:

        DO $$ BEGIN
          ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id");
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$;
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import (
    DUPLICATE_OBJECT,
    DUPLICATE_TABLE,
    INVALID_TABLE_DEFINITION,
    Condition,
    guarded_against,
    missed_by_handlers,
)
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "add-constraint-without-guard",
    severity="warning",
    family="idempotency",
    help="DROP CONSTRAINT IF EXISTS first, or add it in a DO block that checks pg_constraint.",
)
def add_constraint_without_guard(context: LintContext) -> Iterator[Violation]:
    for statement, constraint in context.added_constraints():
        table = altered_table(statement)
        errors = second_run_errors(constraint)
        if guarded_against(statement, *errors):
            continue
        if not constraint.conname:
            yield Violation(
                f"a constraint without a name on {relation_name(table)} is added again, under a new name, each time the migration runs",
                statement,
                node=constraint,
                help="Name the constraint, then DROP CONSTRAINT IF EXISTS it first or add it in a guarded DO block.",
            )
            continue
        if context.dropped_earlier_if_exists("constraint", constraint.conname, statement, parent=table.relname):
            continue
        yield Violation(
            f"ADD CONSTRAINT {quoted(constraint.conname)} on {relation_name(table)} fails if it already exists{missed_by_handlers(statement, *errors)}",
            statement,
            node=constraint,
        )


def second_run_errors(constraint: ast.Constraint) -> tuple[Condition, ...]:
    """What adding the constraint again raises: its index's name is taken, or the constraint's."""
    if constraint.contype == ConstrType.CONSTR_PRIMARY:
        return DUPLICATE_TABLE, INVALID_TABLE_DEFINITION
    if constraint.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
        return (DUPLICATE_TABLE,)
    return (DUPLICATE_OBJECT,)
