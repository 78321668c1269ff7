"""CREATE FUNCTION, PROCEDURE, VIEW or TRIGGER without OR REPLACE fails when the migration runs again.

Problem:
    A retried migration meets the function, view or trigger its first run created and fails with
    42723 or 42P07 (already exists), so a failed deploy cannot simply be run again.

Solution:
    Write `CREATE OR REPLACE FUNCTION`, `CREATE OR REPLACE VIEW`, or (PostgreSQL 14 and later)
    `CREATE OR REPLACE TRIGGER`. On older servers, `DROP TRIGGER IF EXISTS "t" ON "T";` first.
    OR REPLACE cannot change a function's return type or drop a view's columns; drop those
    with IF EXISTS first.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_FUNCTION, DUPLICATE_OBJECT, DUPLICATE_TABLE, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of, required


@rule(
    "create-function-without-or-replace",
    severity="warning",
    family="idempotency",
    help="Write CREATE OR REPLACE so a retried migration does not fail on what it created before.",
)
def create_function_without_or_replace(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.CreateFunctionStmt, ast.ViewStmt, ast.CreateTrigStmt):
        if node.replace:
            continue
        if isinstance(node, ast.CreateFunctionStmt):
            names = names_of(node.funcname)
            kind, name, error = ("PROCEDURE" if node.is_procedure else "FUNCTION"), names[-1] if names else None, DUPLICATE_FUNCTION
            label = quoted(*names)
            dropped = context.dropped_earlier_if_exists(kind.lower(), name, statement)
        elif isinstance(node, ast.ViewStmt):
            view = required(node.view)
            kind, name, label, error = "VIEW", view.relname, relation_name(view), DUPLICATE_TABLE
            dropped = context.dropped_earlier_if_exists("view", name, statement)
        else:
            kind, name, error = "TRIGGER", node.trigname, DUPLICATE_OBJECT
            table = required(node.relation)
            label = f"{quoted(name)} on {relation_name(table)}"
            dropped = context.dropped_earlier_if_exists("trigger", name, statement, parent=table.relname)
        if not dropped and not guarded_against(statement, error):
            yield Violation(f"CREATE {kind} {label} fails if it already exists{missed_by_handlers(statement, error)}", statement)
