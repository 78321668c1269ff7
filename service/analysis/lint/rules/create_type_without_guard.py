"""CREATE TYPE or CREATE DOMAIN outside a catalog-checking DO block fails when the migration runs again.

Problem:
    PostgreSQL has no `CREATE TYPE IF NOT EXISTS`. A retried migration meets the enum, composite
    type or domain its first run created and fails with 42710 (type already exists), so a failed
    deploy cannot simply be run again.

Solution:
    Create the type inside a DO block that checks the catalog or swallows the duplicate:

        DO $$ BEGIN
          CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$;

    or `IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'Role') THEN … END IF;`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import DUPLICATE_OBJECT, guarded_against, missed_by_handlers
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of, required


@rule(
    "create-type-without-guard",
    severity="warning",
    family="idempotency",
    help="Wrap it in DO $$ BEGIN … EXCEPTION WHEN duplicate_object THEN NULL; END $$.",
)
def create_type_without_guard(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.CreateEnumStmt, ast.CompositeTypeStmt, ast.CreateDomainStmt):
        if guarded_against(statement, DUPLICATE_OBJECT):
            continue
        names: list[str | None]
        if isinstance(node, ast.CompositeTypeStmt):
            typevar = required(node.typevar)
            names, kind = [typevar.schemaname, typevar.relname], "type"
        elif isinstance(node, ast.CreateDomainStmt):
            names, kind = list(names_of(node.domainname)), "domain"
        else:
            names, kind = list(names_of(node.typeName)), "type"
        if context.dropped_earlier_if_exists(kind, names[-1], statement):
            continue
        yield Violation(f"CREATE {kind.upper()} {quoted(*names)} fails if it already exists{missed_by_handlers(statement, DUPLICATE_OBJECT)}", statement)
