"""char(n) columns pad with spaces: prefer text.

Problem:
    `char(n)` (`character(n)`) pads every value with spaces to n characters, ignores trailing
    spaces in comparisons but not in every function, and is no faster or smaller than `text` in
    PostgreSQL; values longer than n fail with 22001. Prisma's `@db.Char(n)` writes it.

Solution:
    Use `text`, with `CHECK (char_length("c") = n)` if the length is fixed.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, type_name
from service.analysis.lint.registry import rule


@rule("ban-char-field", severity="info", family="style", help="Use text, with a CHECK on char_length if the length is fixed.")
def ban_char_field(context: LintContext) -> Iterator[Violation]:
    for statement, column, type_node, node in context.column_types:
        if type_name(type_node) == "bpchar":
            yield Violation(f"column {quoted(column)} is char(n), which pads values with spaces", statement, node=node)
