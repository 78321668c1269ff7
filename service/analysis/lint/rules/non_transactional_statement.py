"""VACUUM, CREATE DATABASE and similar statements fail in a migration with other statements.

Problem:
    Prisma sends the whole file as one query string, which PostgreSQL runs as one implicit
    transaction block. `VACUUM`, `CREATE DATABASE`, `DROP DATABASE`, `ALTER SYSTEM`,
    `CREATE TABLESPACE`, `DROP TABLESPACE` and `CREATE SUBSCRIPTION` refuse to run inside one
    and fail with 25001; inside a DO block they fail too. (The CONCURRENTLY forms have their own
    rule, concurrently-in-transaction.) Prisma 7.4 and later send a file with CREATE INDEX
    CONCURRENTLY statement by statement: there such a statement runs on its own and passes.

Solution:
    Leave maintenance (VACUUM, ANALYZE is fine) to autovacuum or to a person, and server or cluster
    settings to provisioning. If the statement must be part of a deploy, put it alone in its own
    migration folder.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import is_concurrent_form, refuses_transaction_block
from service.analysis.lint.registry import rule


@rule(
    "non-transactional-statement",
    severity="error",
    family="transaction",
    help="Put it alone in its own migration, or do it outside migrations.",
)
def non_transactional_statement(context: LintContext) -> Iterator[Violation]:
    for statement in context.all_statements:
        reason = refuses_transaction_block(statement.node)
        if not reason or is_concurrent_form(statement.node):
            continue
        if not context.runs_outside_transactions(statement):
            if statement.parent_index is not None:
                where = "inside a DO block"
            elif context.sent_statement_by_statement:
                where = "between the file's BEGIN and COMMIT"
            else:
                where = "in a file with other statements"
            yield Violation(f"{reason}; {where} it fails with 25001", statement)
