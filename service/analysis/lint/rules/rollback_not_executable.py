"""The ROLLBACK section describes the rollback in words but holds no SQL.

Problem:
    A hint such as `-- Rollback: drop the new indexes` tells a person what to do, in an emergency,
    but nothing can run it or check it: deploy-gate cannot verify or execute it, and the person on
    call has to write the SQL under pressure.

Solution:
    Write the statements themselves, commented out, under the banner:

        -- ROLLBACK SQL:
        -- DROP INDEX IF EXISTS "Post_authorId_idx";

    Notes in words may stay between them.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule
from service.analysis.parsing import Position


@rule(
    "rollback-not-executable",
    severity="warning",
    family="rollback",
    help="Write the rollback statements themselves, commented out, under the banner.",
)
def rollback_not_executable(context: LintContext) -> Iterator[Violation]:
    section = context.rollback_section
    if section is None or section.executable:
        return
    hint = "; ".join(section.prose)
    described = f": {hint!r}" if hint else " and empty"
    yield Violation(f"the rollback section is prose, not SQL{described}", position=Position(section.line, 1))
