"""BEGIN, COMMIT, ROLLBACK or SAVEPOINT in a migration: redundant at best, a half-applied migration at worst.

Problem:
    Prisma sends the file as one query string, which PostgreSQL runs as one implicit transaction:
    if any statement fails, nothing is applied, and the failed migration is safe to retry. A
    `COMMIT` followed by more statements makes the statements before it permanent on their own,
    so a failure after it leaves the database half migrated; a `ROLLBACK` silently throws away what
    came before it while Prisma records the migration as applied; a `BEGIN` never committed leaves
    the transaction open. `BEGIN` … `COMMIT` around the whole file, which Prisma itself writes when
    it recreates an enum, is harmless but redundant, and it invites statements after the COMMIT.

Solution:
    Remove the transaction control: the file is already one transaction. If part of it must commit
    separately (an enum value before its use, a CONCURRENTLY index), split it into two migrations.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import TransactionStmtKind

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule
from service.analysis.parsing import Statement

_STARTS = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)
_COMMITS = (TransactionStmtKind.TRANS_STMT_COMMIT,)
_ROLLS_BACK = (TransactionStmtKind.TRANS_STMT_ROLLBACK,)
_OTHERS = {
    TransactionStmtKind.TRANS_STMT_SAVEPOINT: "sets a savepoint, which only makes sense with transaction control the file should not have",
    TransactionStmtKind.TRANS_STMT_RELEASE: "releases a savepoint, which only makes sense with transaction control the file should not have",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_TO: "rolls back to a savepoint, quietly undoing part of the migration",
    TransactionStmtKind.TRANS_STMT_PREPARE: "prepares a two-phase commit, leaving a prepared transaction holding its locks",
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "commits a prepared transaction from outside the migration",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "rolls back a prepared transaction from outside the migration",
}


@rule(
    "explicit-transaction-control",
    severity="warning",
    family="transaction",
    help="Remove it: Prisma already runs the file as one transaction; split the file if part must commit first.",
)
def explicit_transaction_control(context: LintContext) -> Iterator[Violation]:
    statements = context.statements
    for index, statement in enumerate(statements):
        node = statement.node
        if not isinstance(node, ast.TransactionStmt):
            continue
        keyword = _keyword(statement)
        later = statements[index + 1 :]
        if node.kind in _STARTS:
            ends = [s for s in later if _transaction_kind(s) in (*_COMMITS, *_ROLLS_BACK)]
            if not ends:
                yield Violation(f"{keyword} is never committed, so the transaction is still open when the file ends", statement)
            elif ends[0] is statements[-1] and _transaction_kind(ends[0]) in _COMMITS and index == 0:
                yield Violation(f"{keyword} … {_keyword(ends[0])} around the whole file is redundant: Prisma already runs it as one transaction", statement)
        elif node.kind in _COMMITS:
            if later:
                yield Violation(f"{keyword} commits the statements before it on their own; a failure after it leaves the migration half applied", statement)
            elif not _opened_at_start(statements):
                yield Violation(f"{keyword} at the end is redundant: Prisma already runs the file as one transaction", statement)
        elif node.kind in _ROLLS_BACK:
            yield Violation(f"{keyword} throws away the statements before it, while Prisma records the migration as applied", statement)
        elif node.kind in _OTHERS:
            yield Violation(f"{keyword} {_OTHERS[node.kind]}", statement)


def _opened_at_start(statements: tuple[Statement, ...]) -> bool:
    return _transaction_kind(statements[0]) in _STARTS


def _transaction_kind(statement: Statement) -> TransactionStmtKind | None:
    return statement.node.kind if isinstance(statement.node, ast.TransactionStmt) else None


def _keyword(statement: Statement) -> str:
    """The statement's own first word: BEGIN or START, COMMIT or END, ROLLBACK or ABORT, …"""
    return statement.text.split()[0].upper() if statement.text else "COMMIT"
