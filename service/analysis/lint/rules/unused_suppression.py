"""A deploy-gate-ignore comment that suppresses nothing, or names a rule that does not exist.

Problem:
    Suppressions outlive the statements they were written for: after an edit the comment may sit
    next to another statement, name a rule that no longer fires, or carry a typo. An unused
    suppression hides nothing today but may hide a real problem in a later edit, and a misspelt one
    gives a false sense that a finding was reviewed.

Solution:
    Delete the comment, or fix its rule id (`deploy-gate lint --list-rules` lists them) or its
    place: a trailing comment on the statement's line, or a comment on the line directly above the
    statement. `-- deploy-gate-ignore-file rule-id` covers the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.registry import RULES, rule

RULE_ID = "unused-suppression"


@rule(
    RULE_ID,
    severity="warning",
    family="suppression",
    help="Delete the comment, or fix its rule id or its place.",
    after_suppressions=True,
)
def unused_suppression(context: LintContext) -> Iterator[Violation]:
    if not context.parsed.parses and not context.statements:
        # Nothing could be checked, so nothing could be suppressed; the syntax error says why.
        return
    for directive in context.suppressions:
        directive_name = "deploy-gate-ignore-file" if directive.whole_file else "deploy-gate-ignore"
        if not directive.rule_ids:
            yield Violation(f"{directive_name} names no rule", position=directive.position)
            continue
        if not directive.whole_file and not directive.statements:
            yield Violation(
                f"{directive_name} {', '.join(directive.rule_ids)} is neither on a statement's line nor directly above one",
                position=directive.position,
            )
            continue
        for rule_id in directive.rule_ids:
            if rule_id not in RULES:
                yield Violation(f"{directive_name} names unknown rule {rule_id!r}", position=directive.position)
            elif rule_id != RULE_ID and rule_id in context.enabled_rules and not context.suppressions.used(directive, rule_id):
                yield Violation(f"{directive_name} {rule_id} suppresses nothing", position=directive.position)
