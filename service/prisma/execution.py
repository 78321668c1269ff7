"""How Prisma's schema engine sends a migration file to PostgreSQL, for the Prisma version a target follows.

The one definition deploy, the facts and lint share. `prisma_version` is the major version
(`[targets.NAME] prisma_version`, the deploy body's, or `gate` reading the project's `prisma`
dependency).

- **Prisma 6** (and 7 before 7.4): the whole file as one simple-query string, which PostgreSQL
  runs as one implicit transaction (DESIGN "Prisma Migrate facts").
- **Prisma 7.4 and later** (prisma-engines #5767, Feb 2026; #5799 uses the same path for the
  shadow database): a file with a `CREATE INDEX CONCURRENTLY` is split into its statements, each
  sent as its own simple query, so each commits on its own and the CONCURRENTLY one runs outside a
  transaction block. The engine finds the statements with sqlparser and sends the whole file as
  one string when sqlparser rejects a statement; `DROP INDEX CONCURRENTLY` is the known case
  (sqlparser up to 0.62; prisma-engines #5847, still open), so a file with one is not split.
  Every other file goes whole, as in Prisma 6.

Prisma 7.10.1 pins engines d1b3f377 (`@prisma/engines-version` 8.1.0-1.d1b3f377…), whose
WebAssembly build bundles sqlparser 0.61.0. Its native source could not be read here (docs/prisma-8.md
"Sources"): this module follows the pull requests' own descriptions, and a file whose statements
sqlparser 0.61 rejects for another reason than the one above is split here but sent whole by the
engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pglast import ast

PRISMA_VERSIONS = (6, 7)
DEFAULT_PRISMA_VERSION = 6
# The first major version whose engine splits a file with CREATE INDEX CONCURRENTLY (7.4 and later).
SPLITTING_VERSION = 7


@dataclass(frozen=True)
class Piece:
    """A part of a migration file the engine sends as one simple query; `offset` is where it starts in the file."""

    offset: int
    text: str


def engine_splits(statements: Iterable[ast.Node | object], prisma_version: int) -> bool:
    """Whether the engine of `prisma_version` sends these top-level statements one by one."""
    if prisma_version < SPLITTING_VERSION:
        return False
    from pglast import ast

    nodes = list(statements)
    if any(isinstance(node, ast.DropStmt) and node.concurrent for node in nodes):
        return False  # sqlparser rejects DROP INDEX CONCURRENTLY: the engine falls back to the whole file
    return len(nodes) > 1 and any(isinstance(node, ast.IndexStmt) and node.concurrent for node in nodes)


def outside_transaction_blocks(statements: Iterable[ast.Node | object], prisma_version: int) -> list[bool]:
    """For each top-level statement: whether it runs outside any transaction block.

    Sent whole, only a file's only statement does (a multi-statement string is one implicit
    transaction). Sent one by one, every statement does except those between an explicit BEGIN and
    the COMMIT or ROLLBACK that ends it.
    """
    from pglast import ast
    from pglast.enums import TransactionStmtKind

    nodes = list(statements)
    if not engine_splits(nodes, prisma_version):
        return [len(nodes) == 1] * len(nodes)
    starts = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)
    ends = (TransactionStmtKind.TRANS_STMT_COMMIT, TransactionStmtKind.TRANS_STMT_ROLLBACK, TransactionStmtKind.TRANS_STMT_PREPARE)
    alone = []
    in_block = False
    for node in nodes:
        kind = node.kind if isinstance(node, ast.TransactionStmt) else None
        if kind in starts:
            in_block = True
        alone.append(not in_block)
        if kind in ends:
            in_block = False
    return alone


def pieces_sent(script: str, prisma_version: int) -> list[Piece]:
    """What the engine sends for `script`, in order: the whole file, or its statements one by one."""
    whole = [Piece(0, script)]
    if prisma_version < SPLITTING_VERSION or "concurrently" not in script.lower():
        return whole  # the common case costs no parse
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        raw = parse_sql(script)
    except ParseError:
        return whole  # PostgreSQL refuses the file anyway; sent whole, its error is the server's
    if not engine_splits([statement.stmt for statement in raw], prisma_version):
        return whole
    pieces = []
    for statement in raw:
        start = statement.stmt_location or 0
        end = start + statement.stmt_len if statement.stmt_len else len(script)
        pieces.append(Piece(start, script[start:end]))
    return pieces
