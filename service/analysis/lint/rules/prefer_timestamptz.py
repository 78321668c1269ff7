"""timestamp without time zone columns: prefer timestamptz.

Problem:
    `timestamp` (without time zone) stores a wall-clock reading with no zone, so the same column
    holds values that mean different instants depending on the session's `TimeZone` at write
    time, and comparisons with `now()` silently shift by the server's offset. Prisma's `DateTime`
    maps to `TIMESTAMP(3)`, and only Prisma's own convention of writing UTC keeps it correct.

Solution:
    Use `timestamptz` (`@db.Timestamptz(3)` in Prisma): it stores an instant and converts on the
    way in and out. Changing an existing column later rewrites the table, so choose it up front.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, type_name
from service.analysis.lint.registry import rule


@rule("prefer-timestamptz", severity="info", family="style", help="Use timestamptz (Prisma @db.Timestamptz(3)).")
def prefer_timestamptz(context: LintContext) -> Iterator[Violation]:
    for statement, column, type_node, node in context.column_types:
        if type_name(type_node) == "timestamp":
            yield Violation(f"column {quoted(column)} is timestamp without time zone", statement, node=node)
