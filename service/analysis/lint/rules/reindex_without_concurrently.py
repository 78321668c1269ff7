"""REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index.

Problem:
    A plain `REINDEX` holds a SHARE lock on the table (no writes) and an ACCESS EXCLUSIVE lock on
    each index it rebuilds (no query can use it) until the rebuild ends.

Solution:
    Use `REINDEX … CONCURRENTLY` (PostgreSQL 12 and later), alone in its own migration since it
    cannot run in a transaction block, or run it by hand outside the deploy.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import nodes_of, required


@rule(
    "reindex-without-concurrently",
    severity="warning",
    family="locking",
    help="Use REINDEX … CONCURRENTLY alone in its own migration, or reindex by hand outside the deploy.",
)
def reindex_without_concurrently(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.ReindexStmt):
        if any(param.defname == "concurrently" for param in nodes_of(node.params, ast.DefElem)):
            continue
        kind = required(node.kind).name.removeprefix("REINDEX_OBJECT_")
        target = relation_name(node.relation) if node.relation is not None else quoted(node.name)
        yield Violation(f"REINDEX {kind} {target} blocks writes, and reads through the rebuilt indexes, until it ends", statement)
