"""The ROLLBACK SQL section does not parse.

Problem:
    The section is what the runbook (and deploy-gate, after verifying it) runs to undo the
    migration in an emergency. SQL that does not parse fails exactly then, when there is least
    time to fix it, and deploy-gate will not run a section it cannot parse.

Solution:
    Fix the commented statements at the reported line and column so they parse, keeping each one
    on lines of their own starting with `--`. Better, run them once against a scratch database
    after applying the migration.

    Notes in words may sit between the statements. A line is read as SQL when it ends with `;`,
    parses, or starts with an upper-case keyword (`DROP`, `ALTER`, …) without reading as prose; a
    line that does not parse and reads as a sentence (`-- Rollback: DROP the new unique indexes …`,
    a label such as `DROP:`, three lower-case words in a row outside quotes, or a closing `.`) is a
    note, and `rollback-not-executable` reports a section holding only notes.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule


@rule("rollback-does-not-parse", severity="error", family="rollback", help="Fix the commented rollback SQL here so that it parses.")
def rollback_does_not_parse(context: LintContext) -> Iterator[Violation]:
    section = context.rollback_section
    if section is None:
        return
    for problem in section.problems:
        yield Violation(f"the rollback section does not parse: {problem.message}", position=problem.position)
