"""A DO block runs SQL built at run time (EXECUTE of a computed string), which nothing can check.

Problem:
    `EXECUTE format('ALTER TABLE %I ADD COLUMN …', name)` and other strings assembled while the
    migration runs are invisible to every check here and to deploy-gate's recovery: it cannot tell
    what the statement creates, drops or locks, whether it can run twice, or how to undo it. After
    a failure, such a migration is always left to a person.

Solution:
    Write the statements out, one per table, so each can be read and checked; a migration is run
    once, so a loop saves little. If the SQL must be built at run time, make each generated
    statement idempotent (`ADD COLUMN IF NOT EXISTS`), write its inverse in the ROLLBACK SQL
    section, and say the file was reviewed with `-- deploy-gate-ignore dynamic-sql`.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule
from service.analysis.parsing import OpaqueSql


@rule(
    "dynamic-sql",
    severity="warning",
    family="syntax",
    help="Write the statements out so they can be checked, or make each generated one idempotent.",
)
def dynamic_sql(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(OpaqueSql):
        built = " ".join(node.text.split())
        shown = built if len(built) <= 80 else built[:79] + "…"
        yield Violation(f"EXECUTE runs SQL built at run time ({shown}), which deploy-gate cannot check", statement)
