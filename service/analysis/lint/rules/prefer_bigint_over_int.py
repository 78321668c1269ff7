"""integer and smallint columns run out: prefer bigint.

Problem:
    An `integer` holds values up to 2,147,483,647 and a `smallint` up to 32,767. An id or counter
    that reaches the limit fails every insert with 22003 (out of range), and widening the column
    then rewrites the table under an ACCESS EXCLUSIVE lock, at the worst possible time. Prisma's
    `Int` maps to `integer`, and `@default(autoincrement())` to `SERIAL`.

Solution:
    Use `bigint` (`BigInt` in Prisma, or `Int @db.BigInt`), or `bigserial` / `bigint GENERATED …
    AS IDENTITY` for generated ids. The extra four bytes per row rarely matter.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, type_name
from service.analysis.lint.registry import rule

_SMALL_INTEGERS = {
    "int4": "integer",
    "int2": "smallint",
    "serial": "serial",
    "serial4": "serial",
    "smallserial": "smallserial",
    "serial2": "smallserial",
}


@rule("prefer-bigint-over-int", severity="info", family="style", help="Use bigint (Prisma BigInt) for ids and counters.")
def prefer_bigint_over_int(context: LintContext) -> Iterator[Violation]:
    for statement, column, type_node, node in context.column_types:
        small = _SMALL_INTEGERS.get(type_name(type_node))
        if small:
            yield Violation(f"column {quoted(column)} is {small}, which can run out of values; bigint cannot", statement, node=node)
