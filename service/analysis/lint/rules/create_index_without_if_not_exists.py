"""CREATE INDEX without IF NOT EXISTS fails when the migration runs a second time.

Problem:
    Retrying a migration after a partial failure is only safe when every statement can run again.
    A plain `CREATE INDEX "name"` fails with 42P07 when the index exists. An index created with
    CONCURRENTLY that failed is left behind INVALID, so even the first retry meets it.

Solution:
    Write `CREATE INDEX IF NOT EXISTS "name" ON …` (the index needs a name for IF NOT EXISTS).
    After a failed CONCURRENTLY build, drop the invalid index with `DROP INDEX CONCURRENTLY IF
    EXISTS` before retrying, since IF NOT EXISTS would keep the broken one.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_TABLE, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "create-index-without-if-not-exists",
    severity="warning",
    family="idempotency",
    help='Write CREATE INDEX IF NOT EXISTS "name" so a retried migration does not fail with 42P07.',
)
def create_index_without_if_not_exists(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.IndexStmt):
        if node.if_not_exists or guarded_against(statement, DUPLICATE_TABLE):
            continue
        if not node.idxname:
            yield Violation(
                f"CREATE INDEX on {relation_name(node.relation)} has no name, so every run creates another index",
                statement,
                help='Name the index and write CREATE INDEX IF NOT EXISTS "name".',
            )
            continue
        if context.dropped_earlier_if_exists("index", node.idxname, statement):
            continue
        yield Violation(
            f"CREATE INDEX {quoted(node.idxname)} fails if the index already exists{missed_by_handlers(statement, DUPLICATE_TABLE)}",
            statement,
        )
