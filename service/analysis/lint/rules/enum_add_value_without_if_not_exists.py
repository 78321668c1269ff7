"""ALTER TYPE … ADD VALUE without IF NOT EXISTS fails when the migration runs a second time.

Problem:
    A retried migration meets the enum label its first run added and fails with 42710 (enum label
    already exists). An added label can never be dropped, so the retry cannot be made to pass by
    undoing the first run either. Prisma generates `ADD VALUE` without IF NOT EXISTS.

Solution:
    Write `ALTER TYPE "Role" ADD VALUE IF NOT EXISTS 'ADMIN';`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_OBJECT, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of


@rule(
    "enum-add-value-without-if-not-exists",
    severity="warning",
    family="idempotency",
    help="Write ALTER TYPE … ADD VALUE IF NOT EXISTS 'label'.",
)
def enum_add_value_without_if_not_exists(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.AlterEnumStmt):
        if node.oldVal or node.skipIfNewValExists or guarded_against(statement, DUPLICATE_OBJECT):
            continue
        type_name = quoted(*names_of(node.typeName))
        yield Violation(
            f"ADD VALUE '{node.newVal}' to {type_name} fails if the label already exists{missed_by_handlers(statement, DUPLICATE_OBJECT)}",
            statement,
        )
