"""json columns: prefer jsonb.

Problem:
    `json` stores the text as given and reparses it on every access. It has no equality operator,
    so `SELECT DISTINCT`, `GROUP BY` and `UNION` over a table with a json column fail (42883), and
    it cannot be indexed with GIN. Prisma's `Json` maps to `jsonb`; `@db.Json` writes `json`.

Solution:
    Use `jsonb`, unless the exact text (key order, duplicate keys, whitespace) must be kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted, type_name
from service.analysis.lint.registry import rule


@rule("prefer-jsonb-over-json", severity="info", family="style", help="Use jsonb (Prisma's default for Json).")
def prefer_jsonb_over_json(context: LintContext) -> Iterator[Violation]:
    for statement, column, type_node, node in context.column_types:
        if type_name(type_node) == "json":
            yield Violation(f"column {quoted(column)} is json, which has no equality operator and no GIN index", statement, node=node)
