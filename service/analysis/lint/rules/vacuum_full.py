"""VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.

Problem:
    `VACUUM FULL` copies the whole table into a new file while holding an ACCESS EXCLUSIVE lock,
    blocking reads and writes until it ends, and needs room for a second copy. Like every VACUUM it
    also cannot run in a transaction block, so in a file with other statements it fails with 25001.

Solution:
    Leave space reclaim to autovacuum, or run `VACUUM FULL` (or `pg_repack`, which does not block)
    by hand in a maintenance window, not in a deploy.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import nodes_of


@rule("vacuum-full", severity="warning", family="locking", help="Run VACUUM FULL (or pg_repack) by hand in a maintenance window, not in a migration.")
def vacuum_full(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.VacuumStmt):
        if not node.is_vacuumcmd or not any(option.defname == "full" for option in nodes_of(node.options, ast.DefElem)):
            continue
        tables = ", ".join(relation_name(target.relation) for target in nodes_of(node.rels, ast.VacuumRelation)) or "every table of the database"
        yield Violation(f"VACUUM FULL rewrites {tables} under an ACCESS EXCLUSIVE lock", statement)
