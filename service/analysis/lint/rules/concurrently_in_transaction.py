"""CONCURRENTLY in a migration with other statements fails: Prisma runs the file as one transaction.

Problem:
    `prisma migrate deploy` sends the whole file as one query string, and PostgreSQL runs a
    multi-statement string as one implicit transaction block. `CREATE INDEX CONCURRENTLY`,
    `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY` and `DETACH PARTITION … CONCURRENTLY`
    refuse to run inside one and fail with 25001 (cannot run inside a transaction block), and inside
    a DO block they fail because a function cannot run them. Even a `SET lock_timeout` before the
    statement is enough to break it. A file whose only statement is the CONCURRENTLY one runs fine.

Solution:
    Put each CONCURRENTLY statement alone in its own migration folder, with `IF NOT EXISTS` /
    `IF EXISTS` so a retry after a failed build works. Set timeouts with `deploy-gate deploy
    --lock-timeout` or on the database role rather than in that file.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import is_concurrent_form
from service.analysis.lint.registry import rule
from service.analysis.parsing import Statement


@rule(
    "concurrently-in-transaction",
    severity="error",
    family="transaction",
    help="Move the CONCURRENTLY statement alone into its own migration.",
)
def concurrently_in_transaction(context: LintContext) -> Iterator[Violation]:
    others = len(context.statements) - 1
    for statement in context.all_statements:
        if not is_concurrent_form(statement.node):
            continue
        if statement.parent_index is not None:
            yield Violation("CONCURRENTLY cannot run inside a DO block (a function); it fails when the block runs", statement)
        elif others:
            yield Violation(
                f"{_keyword(statement)} fails with 25001: with {others} other statement{'s' if others > 1 else ''} "
                "in the file, PostgreSQL runs it inside a transaction block",
                statement,
            )


def _keyword(statement: Statement) -> str:
    node = statement.node
    if isinstance(node, ast.IndexStmt):
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt):
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt):
        return "REINDEX CONCURRENTLY"
    return "DETACH PARTITION CONCURRENTLY"
