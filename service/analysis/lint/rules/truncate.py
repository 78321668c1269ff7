"""TRUNCATE deletes every row of a table.

Problem:
    TRUNCATE empties the table at once, under an ACCESS EXCLUSIVE lock, and cannot be undone once
    the migration commits; with CASCADE it also empties every table that references it by foreign
    key. A migration that runs against production with it loses production data.

Solution:
    Delete only the rows you mean to, with a WHERE, or remove the statement. If a table really must
    be emptied, do it by hand with a fresh backup, or say so with `-- deploy-gate-ignore truncate`.
    Tables created earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import nodes_of


@rule("truncate", severity="error", family="danger", help="Delete only the rows you mean to, with a WHERE, or empty the table by hand with a backup.")
def truncate(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.TruncateStmt):
        existing = [relation for relation in nodes_of(node.relations, ast.RangeVar) if not context.is_new_table(relation, statement)]
        if not existing:
            continue
        names = ", ".join(relation_name(relation) for relation in existing)
        cascade = ", and every table referencing it" if node.behavior == DropBehavior.DROP_CASCADE else ""
        yield Violation(f"TRUNCATE deletes every row of {names}{cascade}", statement)
