"""A migration takes a blocking lock on an existing table with no lock_timeout set.

Problem:
    A statement that needs a strong lock (ALTER TABLE, a plain CREATE INDEX, DROP, TRUNCATE, …)
    waits for every transaction using the table to finish, however long, and while it waits every
    new query on the table queues behind it. One slow report query turns a one-millisecond ALTER
    into an outage. PostgreSQL waits forever by default, and `prisma migrate deploy` sets no limit.

Solution:
    Start the migration with `SET lock_timeout = '5s';` (it lasts for the rest of the file). If the
    lock cannot be had in time the migration fails cleanly, with nothing applied, and can be retried
    later; deploy-gate classifies that failure (55P03) as transient.

    deploy-gate sets `lock_timeout` on the session itself before each migration it applies to a
    target whose policy sets `lock_timeout_ms` (5000 unless the targets file says otherwise), so
    there the file needs none and the rule is quiet: a job that applies migrations lints with its
    target's policy, and `deploy-gate lint --target NAME` reads that policy from the targets file
    (`DEPLOY_GATE_CONFIG`). Without `--target`, and for a check whose migrations the build applies
    with `prisma migrate deploy` (which sets no limit), the rule stays on.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.locks import first_lock_without
from service.analysis.lint.registry import rule


@rule(
    "missing-lock-timeout",
    severity="warning",
    family="locking",
    help="Start the migration with SET lock_timeout = '5s';",
)
def missing_lock_timeout(context: LintContext) -> Iterator[Violation]:
    found = first_lock_without(context, "lock_timeout")
    if found:
        statement, lock = found
        yield Violation(
            f"this statement locks {lock.table} in {lock.mode_name} mode and may wait for the lock indefinitely, "
            "blocking every query queued behind it; no lock_timeout is set before it",
            statement,
        )
