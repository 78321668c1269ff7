"""A CHECK constraint added to an existing table without NOT VALID scans it under an ACCESS EXCLUSIVE lock.

Problem:
    `ALTER TABLE … ADD CONSTRAINT … CHECK (…)` reads every row to prove the condition while holding
    an ACCESS EXCLUSIVE lock, which blocks reads and writes until the scan ends. It also fails with
    23514 if an existing row breaks the condition.

Solution:
    Add the constraint with `NOT VALID` (instant: only new and updated rows are checked), then
    run `ALTER TABLE … VALIDATE CONSTRAINT …` in a later migration; validation takes a lock that
    lets reads and writes go on. Tables created or emptied (TRUNCATE) earlier in the same
    migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.enums import ConstrType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name
from service.analysis.lint.registry import rule


@rule(
    "add-check-without-not-valid",
    severity="warning",
    family="locking",
    help="Add the CHECK constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration.",
)
def add_check_without_not_valid(context: LintContext) -> Iterator[Violation]:
    for statement, constraint in context.added_constraints():
        table = altered_table(statement)
        if constraint.contype != ConstrType.CONSTR_CHECK or constraint.skip_validation or context.is_empty_table(table, statement):
            continue
        name = quoted(constraint.conname) if constraint.conname else "a CHECK constraint"
        yield Violation(f"adding {name} to {relation_name(table)} scans every row under an ACCESS EXCLUSIVE lock", statement, node=constraint)
