"""Helpers that name what a rule test asserts, after Squawk's `lint_ok` and `lint_errors`."""

from __future__ import annotations

from collections.abc import Collection

from service.analysis.facts.analyze import analyze_migration
from service.analysis.lint import RULES, Finding, LintContext, lint_migration


def findings_of(sql: str, rule: str, session_timeouts: Collection[str] = ()) -> list[Finding]:
    """The findings of one rule for a script (the other rules run too, as in real use)."""
    assert rule in RULES, f"no rule {rule!r}"
    return [finding for finding in lint_migration(sql, "test", session_timeouts=session_timeouts) if finding.rule == rule]


def lint_errors(sql: str, rule: str, session_timeouts: Collection[str] = ()) -> list[Finding]:
    """The rule's findings for a script that must break it."""
    found = findings_of(sql, rule, session_timeouts)
    assert found, f"{rule} found nothing in:\n{sql}"
    return found


def lint_ok(sql: str, rule: str, session_timeouts: Collection[str] = ()) -> None:
    """A script the rule must accept."""
    found = findings_of(sql, rule, session_timeouts)
    assert not found, f"{rule} should accept:\n{sql}\nbut found: {[finding.message for finding in found]}"


def lint_one(sql: str, rule: str, session_timeouts: Collection[str] = ()) -> Finding:
    """The single finding of a rule for a script that breaks it exactly once."""
    found = lint_errors(sql, rule, session_timeouts)
    assert len(found) == 1, [finding.message for finding in found]
    return found[0]


def context_for(script: str) -> LintContext:
    """The context rules get for a script, as the engine builds it, for tests of the helpers rules use."""
    facts = analyze_migration(script, "test")
    return LintContext("test", script, facts.parsed, facts)
