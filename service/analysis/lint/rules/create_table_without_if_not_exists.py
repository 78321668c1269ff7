"""CREATE TABLE without IF NOT EXISTS fails when the migration runs a second time.

Problem:
    When a deploy fails partway (a lock timeout, a dropped connection, a later statement's error in
    a file that commits in parts), the safe recovery is to mark the migration rolled back and run it
    again. A plain `CREATE TABLE` then fails with 42P07 (relation already exists), so the retry
    cannot succeed and a person has to repair the database by hand. Prisma's generated migrations
    are not idempotent, which is why this is a warning rather than an error.

Solution:
    Write `CREATE TABLE IF NOT EXISTS "Name" (…)`. The same applies to `CREATE TABLE … AS`.
    If the table may exist with a different shape, check the catalog in a DO block instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_TABLE, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import required


@rule(
    "create-table-without-if-not-exists",
    severity="warning",
    family="idempotency",
    help="Write CREATE TABLE IF NOT EXISTS so a retried migration does not fail with 42P07.",
)
def create_table_without_if_not_exists(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.CreateStmt, ast.CreateTableAsStmt):
        if isinstance(node, ast.CreateTableAsStmt):
            if node.objtype != ObjectType.OBJECT_TABLE:
                continue
            relation = required(required(node.into).rel)
        else:
            relation = required(node.relation)
        if node.if_not_exists or guarded_against(statement, DUPLICATE_TABLE):
            continue
        if context.dropped_earlier_if_exists("table", relation.relname, statement):
            continue
        yield Violation(
            f"CREATE TABLE {relation_name(relation)} fails if the table already exists{missed_by_handlers(statement, DUPLICATE_TABLE)}",
            statement,
        )
