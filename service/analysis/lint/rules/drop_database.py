"""DROP DATABASE in a migration.

Problem:
    A migration runs against the database it would drop: PostgreSQL refuses to drop the current
    database (55006), and cannot run DROP DATABASE in the transaction block Prisma's multi-statement
    file is (25001). If it ever succeeded against another database, everything in it would be gone.

Solution:
    Remove it from the migration. Databases are created and dropped by provisioning, not by
    migrations.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule


@rule("drop-database", severity="error", family="danger", help="Remove it: databases belong to provisioning, not to migrations.")
def drop_database(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropdbStmt):
        yield Violation(f"DROP DATABASE {quoted(node.dbname)} deletes a whole database", statement)
