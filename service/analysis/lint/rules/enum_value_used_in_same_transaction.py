"""An enum value added and used in the same migration fails with 55P04.

Problem:
    `ALTER TYPE … ADD VALUE` may run inside a transaction block (PostgreSQL 12 and later), but the
    new label cannot be used until that transaction commits: a later statement of the same file
    that casts it, such as `SET DEFAULT 'ADMIN'` or `UPDATE … SET "role" = 'ADMIN'`, fails with
    55P04 (unsafe use of new value), and Prisma runs the whole file as one transaction. Prisma
    writes exactly this when an enum gains a value that is also a field's new default. Creating the
    type earlier in the same migration does not help: only the labels of `CREATE TYPE … AS ENUM`
    itself are usable at once.

Solution:
    Add the value in one migration and use it in the next. This rule looks for the label as a
    string literal after the ADD VALUE; a literal compared with another type's column is reported
    too, so check and suppress (`-- deploy-gate-ignore enum-value-used-in-same-transaction`) if so.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import TransactionStmtKind

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, string_constants
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of


@rule(
    "enum-value-used-in-same-transaction",
    severity="error",
    family="transaction",
    help="Add the enum value in one migration and use it in the next.",
)
def enum_value_used_in_same_transaction(context: LintContext) -> Iterator[Violation]:
    statements = context.all_statements
    for position, statement in enumerate(statements):
        node = statement.node
        if not isinstance(node, ast.AlterEnumStmt) or node.oldVal or not node.newVal:
            continue
        names = names_of(node.typeName)
        for later in statements[position + 1 :]:
            if isinstance(later.node, ast.TransactionStmt) and later.node.kind == TransactionStmtKind.TRANS_STMT_COMMIT:
                break
            if isinstance(later.node, ast.AlterEnumStmt):
                continue
            use = next((const for const in string_constants(later.node) if isinstance(const.val, ast.String) and const.val.sval == node.newVal), None)
            if use is not None:
                yield Violation(
                    f"'{node.newVal}' is added to {quoted(*names)} here and used at line {later.position.line} in the same "
                    "transaction, which PostgreSQL refuses (55P04)",
                    statement,
                )
                break
