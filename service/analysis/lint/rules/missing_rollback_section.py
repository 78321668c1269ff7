"""A migration that cannot be inverted automatically has no ROLLBACK SQL section.

Problem:
    The runbook rolls back a migration that succeeded but broke the application by running the
    `ROLLBACK SQL` comment section at the bottom of its `migration.sql`. Without one, deploy-gate
    derives the inverse from the migration's effects, which works for reversible DDL (created
    tables, columns, indexes, constraints) but not for drops, type changes, defaults, enum values
    or data changes. For such a migration, the only way back is restoring a snapshot.

Solution:
    Add the section, with the statements that undo the migration, commented out:

        -- ROLLBACK SQL:
        -- ALTER TABLE "User" ALTER COLUMN "age" TYPE integer;
        -- UPDATE "User" SET "tier" = NULL WHERE "tier" = 'basic';

    deploy-gate verifies a section against a scratch database before it runs one. When the
    migration truly cannot be undone (an enum value, a dropped column), say so where the person on
    call will read it: `-- deploy-gate-ignore-file missing-rollback-section -- restore the snapshot`.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import rule
from service.analysis.parsing import Position
from service.analysis.rollback import derive_inverse


@rule(
    "missing-rollback-section",
    severity="warning",
    family="rollback",
    help="Add a commented `-- ROLLBACK SQL:` section with the statements that undo this migration.",
)
def missing_rollback_section(context: LintContext) -> Iterator[Violation]:
    facts = context.facts
    if context.rollback_section is not None or not facts.parses or not (facts.effects or facts.data_changes):
        return
    plan = derive_inverse(facts)
    if plan.complete:
        return
    first = next((reason for reason in plan.reasons if reason.line), None)
    why = first.message if first else "its effects have no derived inverse"
    yield Violation(
        f"no ROLLBACK SQL section, and deploy-gate cannot derive the inverse: {why}",
        position=Position(first.line, 1) if first else None,
    )
