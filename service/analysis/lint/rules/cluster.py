"""CLUSTER rewrites the table in index order under an ACCESS EXCLUSIVE lock.

Problem:
    `CLUSTER` copies the whole table, sorted by an index, while holding an ACCESS EXCLUSIVE lock,
    blocking reads and writes until it ends, and it needs room for a second copy. The order is not
    kept for rows written later, so it buys little for a deploy's risk. Without a table name it
    cannot run in a transaction block.

Solution:
    Run it by hand in a maintenance window, or use `pg_repack --order-by`, which does not block.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule


@rule("cluster", severity="warning", family="locking", help="Run CLUSTER (or pg_repack) by hand in a maintenance window, not in a migration.")
def cluster(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.ClusterStmt):
        relation = node.relation
        if relation is not None and context.is_empty_table(relation, statement):
            continue
        target = relation_name(relation) if relation is not None else "every clustered table"
        yield Violation(f"CLUSTER rewrites {target} under an ACCESS EXCLUSIVE lock", statement)
