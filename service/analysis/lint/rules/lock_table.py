"""LOCK TABLE in a mode that blocks the application's writes (or reads) until the migration commits.

Problem:
    Prisma runs the file as one transaction, so an explicit `LOCK TABLE` (ACCESS EXCLUSIVE unless a
    mode is given) is held until the last statement ends. From SHARE mode up it blocks every write
    to the table; ACCESS EXCLUSIVE blocks reads too. Waiting for it also queues every later query
    on the table behind the migration.

Solution:
    Let each statement take the lock it needs, for as short as it needs it. If an explicit lock is
    needed to order locks and avoid deadlocks, set `lock_timeout` first, keep the rest of the file
    short, and say so with `-- deploy-gate-ignore lock-table`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.locks import LOCK_MODES, SHARE
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import nodes_of, required


@rule("lock-table", severity="warning", family="locking", help="Drop the explicit lock, or set lock_timeout first and keep the migration short.")
def lock_table(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.LockStmt):
        mode = required(node.mode)
        if mode < SHARE:
            continue
        tables = [relation for relation in nodes_of(node.relations, ast.RangeVar) if not context.is_empty_table(relation, statement)]
        if tables:
            names = ", ".join(relation_name(relation) for relation in tables)
            blocks = "reads and writes" if mode == max(LOCK_MODES) else "writes"
            yield Violation(f"LOCK TABLE {names} IN {LOCK_MODES[mode]} MODE blocks {blocks} until the migration commits", statement)
