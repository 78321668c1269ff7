"""CREATE SEQUENCE, SCHEMA, EXTENSION or MATERIALIZED VIEW without IF NOT EXISTS fails when the migration runs again.

Problem:
    A retried migration meets the sequence, schema, extension or materialized view its first run
    created and fails with 42P07, 42P06 or 42710 (already exists), so a failed deploy cannot
    simply be run again. Tables and indexes have their own rules.

Solution:
    Write `CREATE SEQUENCE IF NOT EXISTS`, `CREATE SCHEMA IF NOT EXISTS`, `CREATE EXTENSION IF NOT
    EXISTS` or `CREATE MATERIALIZED VIEW IF NOT EXISTS`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_OBJECT, DUPLICATE_SCHEMA, DUPLICATE_TABLE, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import required


@rule(
    "create-without-if-not-exists",
    severity="warning",
    family="idempotency",
    help="Write CREATE … IF NOT EXISTS so a retried migration does not fail on what it created before.",
)
def create_without_if_not_exists(context: LintContext) -> Iterator[Violation]:
    kinds = (ast.CreateSeqStmt, ast.CreateSchemaStmt, ast.CreateExtensionStmt, ast.CreateTableAsStmt)
    for statement, node in context.of_type(*kinds):
        if node.if_not_exists:
            continue
        if isinstance(node, ast.CreateSeqStmt):
            what, error = f"SEQUENCE {relation_name(node.sequence)}", DUPLICATE_TABLE
        elif isinstance(node, ast.CreateSchemaStmt):
            what, error = f"SCHEMA {quoted(node.schemaname)}", DUPLICATE_SCHEMA
        elif isinstance(node, ast.CreateExtensionStmt):
            what, error = f"EXTENSION {quoted(node.extname)}", DUPLICATE_OBJECT
        elif node.objtype == ObjectType.OBJECT_MATVIEW:
            what, error = f"MATERIALIZED VIEW {relation_name(required(node.into).rel)}", DUPLICATE_TABLE
        else:
            continue
        if not guarded_against(statement, error):
            yield Violation(f"CREATE {what} fails if it already exists{missed_by_handlers(statement, error)}", statement)
