"""Whether a failure can leave part of a migration behind, and what makes PostgreSQL refuse the file whatever the data."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from pglast import ast
from pglast.enums import AlterTableType, TransactionStmtKind

from service.analysis.facts.records import Reason
from service.analysis.parsing import ParsedMigration, Statement, StatementNode, nodes_of, required
from service.prisma.execution import DEFAULT_PRISMA_VERSION, engine_splits, outside_transaction_blocks

_OUTSIDE_TRANSACTION = {
    ast.VacuumStmt: "VACUUM cannot run inside a transaction block",
    ast.CreatedbStmt: "CREATE DATABASE cannot run inside a transaction block",
    ast.DropdbStmt: "DROP DATABASE cannot run inside a transaction block",
    ast.AlterSystemStmt: "ALTER SYSTEM cannot run inside a transaction block",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE cannot run inside a transaction block",
    ast.DropTableSpaceStmt: "DROP TABLESPACE cannot run inside a transaction block",
    ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION cannot run inside a transaction block",
}


def outside_transaction_reason(node: StatementNode) -> str | None:
    """Why a statement runs outside any transaction block, if it must."""
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY runs outside a transaction; a failure leaves an INVALID index"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in nodes_of(node.params, ast.DefElem)):
        return "REINDEX CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.AlterTableStmt):
        for command in nodes_of(node.cmds, ast.AlterTableCmd):
            partition = command.def_
            if command.subtype == AlterTableType.AT_DetachPartition and isinstance(partition, ast.PartitionCmd) and partition.concurrent:
                return "DETACH PARTITION CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.VacuumStmt) and not node.is_vacuumcmd:
        return None  # ANALYZE shares the node but runs inside a transaction
    for node_type, reason in _OUTSIDE_TRANSACTION.items():
        if isinstance(node, node_type):
            return reason
    return None


_ENDS_TRANSACTION = (
    TransactionStmtKind.TRANS_STMT_COMMIT,
    TransactionStmtKind.TRANS_STMT_ROLLBACK,
    TransactionStmtKind.TRANS_STMT_PREPARE,
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
)
_STARTS_TRANSACTION = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)


def transaction_facts(parsed: ParsedMigration, prisma_version: int = DEFAULT_PRISMA_VERSION) -> tuple[list[Reason], list[Reason]]:
    """(why a failure could leave effects behind, why the file fails whatever the data).

    Sent whole (`service.prisma.execution`), PostgreSQL runs a multi-statement simple query as one
    implicit transaction; a BEGIN in it takes the statements before it along, and only a COMMIT (or
    ROLLBACK) followed by more statements splits the file. Statements that refuse transaction blocks
    fail with 25001 in a multi-statement file, and run outside any transaction when they are the
    file's only statement. Sent statement by statement (Prisma 7, a file with CREATE INDEX
    CONCURRENTLY), each statement outside an explicit BEGIN … COMMIT commits on its own.
    """
    not_transactional: list[Reason] = []
    fails: list[Reason] = []
    statements = parsed.statements
    nodes = [statement.node for statement in statements]
    split = engine_splits(nodes, prisma_version)
    alone = outside_transaction_blocks(nodes, prisma_version)
    if split:
        first = statements[0]
        not_transactional.append(
            Reason(f"Prisma {prisma_version} sends a file with CREATE INDEX CONCURRENTLY statement by statement: each commits on its own", first.position.line)
        )
    open_transaction: Statement | None = None
    for position, statement in enumerate(statements):
        node = statement.node
        if isinstance(node, ast.TransactionStmt):
            if node.kind in _STARTS_TRANSACTION:
                open_transaction = statement
            elif node.kind in _ENDS_TRANSACTION:
                open_transaction = None
                if position + 1 < len(statements) and not split:
                    keyword = statement.text.split()[0].upper() if statement.text else "COMMIT"
                    not_transactional.append(
                        Reason(f"explicit transaction control: {keyword} commits the statements before it on their own", statement.position.line)
                    )
        reason = outside_transaction_reason(node)
        if reason:
            if alone[position]:
                if not split:
                    not_transactional.append(Reason(reason, statement.position.line))
            else:
                keyword = " ".join(statement.text.split()[:4])
                where = "the transaction of a multi-statement file" if not split else "the file's explicit transaction block"
                fails.append(Reason(f"{keyword} cannot run in {where} (25001)", statement.position.line))
    if open_transaction is not None:
        leaves_open = "BEGIN without COMMIT leaves the transaction open; deploy-gate rolls it back and records a failure"
        fails.append(Reason(leaves_open, open_transaction.position.line))
    fails.extend(_enum_values_used_early(parsed, prisma_version))
    return not_transactional, fails


def _enum_values_used_early(parsed: ParsedMigration, prisma_version: int) -> list[Reason]:
    """ALTER TYPE … ADD VALUE whose label a later statement of the same transaction uses (55P04)."""
    return [
        Reason(
            f"enum value '{early.value}' is added and used in the same transaction (line {early.use.position.line}), which PostgreSQL refuses (55P04)",
            early.added.position.line,
        )
        for early in enum_values_used_early(parsed, prisma_version)
    ]


@dataclass(frozen=True)
class EarlyEnumUse:
    """An enum label added by `ALTER TYPE … ADD VALUE` and used before the transaction commits."""

    added: Statement
    node: ast.AlterEnumStmt
    use: Statement  # the first later statement of the same transaction with the label as a string literal

    @property
    def value(self) -> str:
        return required(self.node.newVal)


def enum_values_used_early(parsed: ParsedMigration, prisma_version: int = DEFAULT_PRISMA_VERSION) -> list[EarlyEnumUse]:
    """Each ADD VALUE whose label a later statement uses before a COMMIT, in file order.

    Only a string literal uses the label; a column that happens to share its name does not. The
    statements using each added label are found in one pass, so a file with many ADD VALUE costs no
    more than one with a few.
    """
    statements = parsed.all_statements
    added = [
        (position, statement, node)
        for position, statement in enumerate(statements)
        if isinstance(node := statement.node, ast.AlterEnumStmt) and node.newVal and not node.oldVal
    ]
    if not added:
        return []
    alone = outside_transaction_blocks([statement.node for statement in parsed.statements], prisma_version)
    if engine_splits([statement.node for statement in parsed.statements], prisma_version):
        # Sent one by one, an ADD VALUE outside an explicit transaction commits before the next statement runs.
        top_alone = {id(statement) for statement, is_alone in zip(parsed.statements, alone, strict=True) if is_alone}
        added = [item for item in added if id(item[1]) not in top_alone]
        if not added:
            return []
    labels = {required(node.newVal) for _, _, node in added}
    uses: dict[str, list[int]] = defaultdict(list)
    commits: list[int] = []
    for position, statement in enumerate(statements):
        node = statement.node
        if isinstance(node, ast.TransactionStmt) and node.kind == TransactionStmtKind.TRANS_STMT_COMMIT:
            commits.append(position)
        elif not isinstance(node, ast.AlterEnumStmt):
            for label in labels & statement.string_literals:
                uses[label].append(position)
    found = []
    for position, statement, node in added:
        next_commit = commits[index] if (index := bisect_right(commits, position)) < len(commits) else len(statements)
        positions = uses.get(required(node.newVal), [])
        first = bisect_right(positions, position)
        if first < len(positions) and positions[first] < next_commit:
            found.append(EarlyEnumUse(statement, node, statements[positions[first]]))
    return found
