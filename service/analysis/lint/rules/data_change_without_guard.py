"""INSERT, UPDATE, MERGE or COPY that changes rows again when the migration runs a second time.

Problem:
    Retrying a failed migration runs its data changes again. An `INSERT` without ON CONFLICT adds
    the rows twice (or fails on a unique key), an `UPDATE "Account" SET "balance" = "balance" + 10`
    adds twice, and a backfill from `now()` or `gen_random_uuid()` gives different values. Marking
    such a migration rolled back and re-running it corrupts data quietly, which is the failure the
    runbook's third scenario (restore from a snapshot) exists for.

Solution:
    Make the statement skip the rows it already changed: `INSERT … ON CONFLICT DO NOTHING`,
    `INSERT … SELECT … WHERE NOT EXISTS (…)`, or an UPDATE whose WHERE tests the column it sets
    (`UPDATE "User" SET "tier" = 'basic' WHERE "tier" IS NULL`). An UPDATE whose new value depends
    on the old one is recognised as safe when a condition of its WHERE (on its own, or ANDed with
    others) leaves out the rows already done:

        UPDATE "Patient" SET "phone" = '+1' || "phone" WHERE "phone" !~ '^\\+';       -- or NOT LIKE '+%'
        UPDATE "User" SET "email" = lower("email") WHERE "email" <> lower("email");  -- or IS DISTINCT FROM
        UPDATE "Account" SET "balance" = "balance" + 10
        WHERE NOT EXISTS (SELECT 1 FROM "BonusPaid" b WHERE b."accountId" = "Account"."id");

    A comparison with a new value that changes again each time (`"total" <> "total" + 499`) skips
    nothing and is not a guard. Put one-off data fixes in their own migration, apart from schema
    changes.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule

_HELP = {
    "insert": "Add ON CONFLICT DO NOTHING, or a WHERE NOT EXISTS that skips rows already inserted.",
    "copy": "Load into a staging table and INSERT … ON CONFLICT DO NOTHING from it.",
}


@rule(
    "data-change-without-guard",
    severity="warning",
    family="idempotency",
    help="Add a WHERE that skips the rows already changed, so a second run changes nothing.",
)
def data_change_without_guard(context: LintContext) -> Iterator[Violation]:
    statements = {(context.top_index(s), s.position.line): s for s in context.all_statements}
    for change in context.facts.data_changes:
        if change.guarded:
            continue
        statement = statements.get((change.statement, change.line))
        yield Violation(
            f"{change.kind.upper()} on {quoted(change.schema, change.table)} changes rows again if the migration is re-run",
            statement,
            help=_HELP.get(change.kind),
        )
