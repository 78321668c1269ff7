"""An enum value added and used in the same migration fails with 55P04.

Problem:
    `ALTER TYPE … ADD VALUE` may run inside a transaction block (PostgreSQL 12 and later), but the
    new label cannot be used until that transaction commits: a later statement of the same file
    that casts it, such as `SET DEFAULT 'ADMIN'` or `UPDATE … SET "role" = 'ADMIN'`, fails with
    55P04 (unsafe use of new value), and Prisma runs the whole file as one transaction. Prisma
    writes exactly this when an enum gains a value that is also a field's new default. Creating the
    type earlier in the same migration does not help: only the labels of `CREATE TYPE … AS ENUM`
    itself are usable at once. (Prisma 7.4 and later send a file with CREATE INDEX CONCURRENTLY
    statement by statement: there each statement outside BEGIN … COMMIT commits on its own, and the
    label is usable by the next.)

Solution:
    Add the value in one migration and use it in the next. This rule looks for the label as a
    string literal after the ADD VALUE; a literal compared with another type's column is reported
    too, so check and suppress (`-- deploy-gate-ignore enum-value-used-in-same-transaction`) if so.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.facts.transactions import enum_values_used_early
from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of


@rule(
    "enum-value-used-in-same-transaction",
    severity="error",
    family="transaction",
    help="Add the enum value in one migration and use it in the next.",
)
def enum_value_used_in_same_transaction(context: LintContext) -> Iterator[Violation]:
    for early in enum_values_used_early(context.parsed, context.prisma_version):
        yield Violation(
            f"'{early.value}' is added to {quoted(*names_of(early.node.typeName))} here and used at line {early.use.position.line} in the same "
            "transaction, which PostgreSQL refuses (55P04)",
            early.added,
        )
