"""Pre-deploy lint: a catalogue of rules over each migration's parsed SQL and facts.

    from service.analysis.lint import RULES, lint_migration, lint_migrations

    findings = lint_migration(script, "20240101_init", severities={"prefer-timestamptz": "off"})
    RULES["drop-table"].problem, RULES["drop-table"].solution

Rules live one per module in `service.analysis.lint.rules` and register themselves with `@rule`;
importing this package loads them all.
"""

from service.analysis.lint.context import LintContext
from service.analysis.lint.engine import lint_migration, lint_migrations
from service.analysis.lint.findings import ERROR, INFO, LEVELS, OFF, SEVERITIES, WARNING, Finding, Violation
from service.analysis.lint.registry import FAMILIES, RULES, LintConfigurationError, Rule, effective_levels, load_rules, rule

load_rules()

__all__ = [
    "ERROR",
    "FAMILIES",
    "INFO",
    "LEVELS",
    "OFF",
    "RULES",
    "SEVERITIES",
    "WARNING",
    "Finding",
    "LintConfigurationError",
    "LintContext",
    "Rule",
    "Violation",
    "effective_levels",
    "lint_migration",
    "lint_migrations",
    "load_rules",
    "rule",
]
