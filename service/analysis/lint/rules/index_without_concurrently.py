"""CREATE INDEX on an existing table without CONCURRENTLY blocks writes to it for the whole build.

Problem:
    A plain `CREATE INDEX` holds a SHARE lock on the table until the index is built: reads go on,
    but every INSERT, UPDATE and DELETE waits, for minutes on a large table. Prisma's generated
    indexes are all built this way.

Solution:
    Build it with `CREATE INDEX CONCURRENTLY IF NOT EXISTS "name" ON …`, which lets writes go
    on. CONCURRENTLY cannot run in a transaction block, and Prisma runs a multi-statement file
    as one, so put the statement alone in its own migration (see concurrently-in-transaction).
    If the build fails it leaves an INVALID index behind: drop it and run again. Indexes on
    tables created or emptied (TRUNCATE) earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "index-without-concurrently",
    severity="warning",
    family="locking",
    help="Use CREATE INDEX CONCURRENTLY, alone in its own migration.",
)
def index_without_concurrently(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.IndexStmt):
        if node.concurrent or context.is_empty_table(node.relation, statement):
            continue
        name = f"index {quoted(node.idxname)}" if node.idxname else "an index"
        yield Violation(f"building {name} blocks writes to {relation_name(node.relation)} until it is done", statement)
