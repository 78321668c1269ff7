"""DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table.

Problem:
    A plain `DROP INDEX` needs an ACCESS EXCLUSIVE lock on the table. The drop itself is quick, but
    it waits for every running query on the table to finish, and every query that arrives meanwhile
    queues behind it: one long report query turns the drop into an outage.

Solution:
    Use `DROP INDEX CONCURRENTLY IF EXISTS "name";`, which waits for conflicting transactions
    without blocking new ones. It cannot run in a transaction block, so put it alone in its own
    migration. Indexes created earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import dropped_names, quoted
from service.analysis.lint.registry import rule


@rule(
    "drop-index-without-concurrently",
    severity="warning",
    family="locking",
    help="Use DROP INDEX CONCURRENTLY IF EXISTS, alone in its own migration.",
)
def drop_index_without_concurrently(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        if node.removeType != ObjectType.OBJECT_INDEX or node.concurrent:
            continue
        for names in dropped_names(node):
            if not context.created_earlier("index", names[-1], statement):
                yield Violation(f"DROP INDEX {quoted(*names)} waits for, then blocks, every query on its table", statement)
