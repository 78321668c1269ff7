"""varchar(n) columns: prefer text, with a CHECK constraint if a limit is needed.

Problem:
    In PostgreSQL `varchar(n)` is stored and performs exactly like `text`; the length limit is
    the only difference, and changing it later is an `ALTER COLUMN … TYPE`. Raising the limit is
    cheap, but lowering it rewrites and scans the table under an ACCESS EXCLUSIVE lock. Values
    over the limit fail inserts with 22001. Prisma's `@db.VarChar(n)` writes it.

Solution:
    Use `text` (Prisma's default for `String`). If the length must be limited, add
    `CHECK (char_length("c") <= n)`, which can be added NOT VALID and validated without blocking,
    and changed without touching the column.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import has_length, quoted, type_name
from service.analysis.lint.registry import rule


@rule("prefer-text-over-varchar", severity="info", family="style", help="Use text, with a CHECK (char_length(…) <= n) constraint if a limit is needed.")
def prefer_text_over_varchar(context: LintContext) -> Iterator[Violation]:
    for statement, column, type_node, node in context.column_types:
        if type_name(type_node) == "varchar" and has_length(type_node):
            yield Violation(f"column {quoted(column)} is varchar with a length; text with a CHECK is easier to change", statement, node=node)
