"""CONCURRENTLY in a migration that Prisma runs as one transaction fails.

Problem:
    Prisma 6 (and 7 before 7.4) sends the whole file as one query string, and PostgreSQL runs a
    multi-statement string as one implicit transaction block. `CREATE INDEX CONCURRENTLY`,
    `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY` and `DETACH PARTITION … CONCURRENTLY`
    refuse to run inside one and fail with 25001 (cannot run inside a transaction block), and inside
    a DO block they fail because a function cannot run them. Even a `SET lock_timeout` before the
    statement is enough to break it. A file whose only statement is the CONCURRENTLY one runs fine.

    Prisma 7.4 and later (`prisma_version = 7` on the target) send a file with `CREATE INDEX
    CONCURRENTLY` statement by statement, so there it runs, and so does any other CONCURRENTLY
    statement of that file, unless it sits between an explicit BEGIN and COMMIT. A file with
    `DROP INDEX CONCURRENTLY` is still sent whole (the engine's SQL parser rejects it), so the rule
    holds there as in Prisma 6. Sent one by one, each statement commits on its own: a failure
    part-way leaves the statements before it applied.

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
        elif not context.runs_outside_transactions(statement):
            yield Violation(f"{_keyword(statement)} fails with 25001: {_why_in_a_transaction(context, others)}", statement)


def _why_in_a_transaction(context: LintContext, others: int) -> str:
    if context.sent_statement_by_statement:
        return "it sits between the file's BEGIN and COMMIT, a transaction block"
    if context.prisma_version >= 7 and any(isinstance(s.node, ast.IndexStmt) and s.node.concurrent for s in context.statements):
        return (
            f"Prisma {context.prisma_version} sends a file with CREATE INDEX CONCURRENTLY statement by statement, but one with "
            "DROP INDEX CONCURRENTLY whole (its SQL parser rejects it), and PostgreSQL runs the whole file inside a transaction block"
        )
    return f"with {others} other statement{'s' if others > 1 else ''} in the file, PostgreSQL runs it inside a transaction block"


def _keyword(statement: Statement) -> str:
    node = statement.node
    if isinstance(node, ast.IndexStmt):
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt):
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt):
        return "REINDEX CONCURRENTLY"
    return "DETACH PARTITION CONCURRENTLY"
