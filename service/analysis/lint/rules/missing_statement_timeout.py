"""A migration holds a blocking lock on an existing table with no statement_timeout set.

Problem:
    Once a statement has its lock, a slow table rewrite, index build or validation scan holds it as
    long as it runs, and the migration's later statements keep every lock taken before them until
    the file commits. Without a statement_timeout a migration that turns out slow in production
    keeps the table blocked until someone notices and cancels it.

Solution:
    Set a budget at the top of the migration, such as `SET statement_timeout = '60s';`. A statement
    that runs over fails the migration cleanly (57014, which deploy-gate treats as transient), and
    the slow step can be redone in a way that does not block (CONCURRENTLY, NOT VALID, batches).
    `deploy-gate deploy --statement-timeout` sets it for every migration, and deploy-gate sets it on
    the session before each migration it applies to a target whose policy sets
    `statement_timeout_ms`; there (a job that applies, or `deploy-gate lint --target NAME`) the rule
    is quiet.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.locks import first_lock_without
from service.analysis.lint.registry import rule


@rule(
    "missing-statement-timeout",
    severity="info",
    family="locking",
    help="Start the migration with SET statement_timeout = '60s'; (or a budget that suits it).",
)
def missing_statement_timeout(context: LintContext) -> Iterator[Violation]:
    found = first_lock_without(context, "statement_timeout")
    if found:
        statement, lock = found
        yield Violation(
            f"this statement locks {lock.table} in {lock.mode_name} mode until the migration commits, and no statement_timeout limits how long that is",
            statement,
        )
