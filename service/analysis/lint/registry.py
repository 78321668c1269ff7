"""The rule catalogue: every rule registers itself with `@rule`, so adding one edits no list.

A rule is a function `(LintContext) -> Iterable[Violation]` in its own module under
`service.analysis.lint.rules`, the module named after the rule's id (`drop_table.py` holds
`drop-table`). The module docstring is the rule's documentation: a one-line summary, then a
`Problem:` section and a `Solution:` section, as on Squawk's pages.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.analysis.lint.findings import INFO, LEVELS, OFF, SEVERITIES, Violation

if TYPE_CHECKING:
    from service.analysis.lint.context import LintContext

FAMILIES = {
    "syntax": "SQL deploy-gate cannot read: it does not parse, or it is built at run time",
    "idempotency": "the migration cannot be run a second time, so a failed deploy cannot simply retry it",
    "danger": "data is lost or a running application breaks",
    "backward-compatibility": "the previous release of the application, still running during the deploy, breaks on the new schema",
    "transaction": "Prisma sends the file as one implicit transaction; these break or escape it",
    "locking": "locks that block reads or writes on existing tables for longer than needed",
    "style": "column types and names that cause trouble later",
    "rollback": "the ROLLBACK SQL section the runbook relies on",
    "suppression": "deploy-gate-ignore comments",
}

# Prisma runs each file once, as one implicit transaction: a failed file leaves nothing behind and
# its retry starts from scratch. Whether a statement could run twice matters only where the file is
# not one transaction (a COMMIT mid-file, a lone CONCURRENTLY), so these families say less elsewhere.
QUIETER_IN_ONE_TRANSACTION = {"idempotency": INFO}

# The families whose warnings a deploy must hear about before it runs, not only its errors: a job's
# lint step records them (service.jobs.lint_step) and the gate prints their warnings. A name that
# is not (yet) a family selects nothing, so a family added to FAMILIES under one of these names is
# shown without another change.
DEPLOY_RISK_FAMILIES = ("transaction", "locking", "backward-compatibility")

RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

Check = Callable[["LintContext"], Iterable[Violation]]


class RuleDefinitionError(Exception):
    """A rule module that breaks the catalogue's conventions; raised when it is imported."""


class LintConfigurationError(ValueError):
    """A severity override that names an unknown rule or level."""


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # the default: error | warning | info
    family: str
    help: str  # one line: how to fix a finding
    summary: str
    problem: str
    solution: str
    check: Check
    module: str
    # Runs after the other rules' findings are filtered by suppressions (unused-suppression).
    after_suppressions: bool = False

    def default_level(self, transactional: bool) -> str:
        """Its severity for a file that is (or is not) one transaction, when no override sets it."""
        quieter = QUIETER_IN_ONE_TRANSACTION.get(self.family) if transactional else None
        if quieter is not None and SEVERITIES.index(quieter) > SEVERITIES.index(self.severity):
            return quieter
        return self.severity

    @property
    def documentation(self) -> str:
        return f"{self.summary}\n\nProblem:\n{self.problem}\n\nSolution:\n{self.solution}"


RULES: dict[str, Rule] = {}

_SECTION = re.compile(r"^(Problem|Solution):\s*$", re.MULTILINE)


def _documentation(doc: str | None, where: str) -> tuple[str, str, str]:
    """(summary, problem, solution) from a rule's docstring."""
    text = inspect.cleandoc(doc or "")
    parts = _SECTION.split(text)
    summary = parts[0].strip()
    sections = {parts[i]: inspect.cleandoc(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}
    problem, solution = sections.get("Problem", ""), sections.get("Solution", "")
    if not (summary and problem and solution):
        raise RuleDefinitionError(f"{where}: the docstring needs a summary, a Problem: section and a Solution: section")
    return summary, problem, solution


def rule(rule_id: str, *, severity: str, family: str, help: str, after_suppressions: bool = False) -> Callable[[Check], Check]:
    """Register a rule; its documentation is the function's docstring, else its module's."""

    def register(check: Check) -> Check:
        where = f"{check.__module__}.{check.__name__}"
        if not RULE_ID.match(rule_id):
            raise RuleDefinitionError(f"{where}: rule id {rule_id!r} is not kebab-case")
        if rule_id in RULES and RULES[rule_id].module != check.__module__:
            raise RuleDefinitionError(f"{where}: rule id {rule_id!r} is already registered by {RULES[rule_id].module}")
        if severity not in SEVERITIES:
            raise RuleDefinitionError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        if family not in FAMILIES:
            raise RuleDefinitionError(f"{where}: family {family!r} is not one of {', '.join(FAMILIES)}")
        if not help.strip() or "\n" in help.strip():
            raise RuleDefinitionError(f"{where}: help must be one line")
        module_doc = getattr(sys.modules.get(check.__module__), "__doc__", None)
        summary, problem, solution = _documentation(check.__doc__ or module_doc, where)
        RULES[rule_id] = Rule(rule_id, severity, family, help.strip(), summary, problem, solution, check, check.__module__, after_suppressions)
        return check

    return register


def deploy_risk_families() -> list[str]:
    """The families of DEPLOY_RISK_FAMILIES that the catalogue has, in that order."""
    return [family for family in DEPLOY_RISK_FAMILIES if family in FAMILIES]


def load_rules() -> dict[str, Rule]:
    """Import every module of the rules package (each registers its rule) and return the catalogue."""
    from service.analysis.lint import rules

    for module in pkgutil.iter_modules(rules.__path__):
        importlib.import_module(f"{rules.__name__}.{module.name}")
    return RULES


def effective_levels(overrides: Mapping[str, str] | None = None, *, transactional: bool = False) -> dict[str, str]:
    """Each rule's level: as `overrides` sets it (error, warning, info, off), else its default for
    a file that is (or is not) one transaction (`Rule.default_level`)."""
    levels = {rule_id: rule.default_level(transactional) for rule_id, rule in RULES.items()}
    for rule_id, level in (overrides or {}).items():
        if rule_id not in RULES:
            raise LintConfigurationError(f"Unknown rule {rule_id!r}.")
        normalised = str(level).strip().lower()
        if normalised not in LEVELS:
            raise LintConfigurationError(f"Level {level!r} for {rule_id} is not one of {', '.join(LEVELS)}.")
        levels[rule_id] = normalised
    return levels


def enabled(levels: Mapping[str, str]) -> frozenset[str]:
    return frozenset(rule_id for rule_id, level in levels.items() if level != OFF)
