"""Run the catalogue over migrations: findings in file order, suppressions applied, never an exception for bad SQL."""

from __future__ import annotations

import multiprocessing
from collections.abc import Collection, Iterable, Mapping

from service.analysis.facts.analyze import analyze_migration
from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import OFF, Finding, Violation
from service.analysis.lint.registry import RULES, Rule, effective_levels, enabled
from service.analysis.lint.suppressions import find_suppressions
from service.analysis.parsing import Position, cyclic_gc_paused, position_of
from service.prisma.execution import DEFAULT_PRISMA_VERSION
from service.prisma.migrations import LocalMigrations


@cyclic_gc_paused()
def lint_migration(
    script: str,
    name: str = "",
    severities: Mapping[str, str] | None = None,
    session_timeouts: Collection[str] = frozenset(),
    prisma_version: int = DEFAULT_PRISMA_VERSION,
) -> list[Finding]:
    """Every finding for one migration, sorted by line and column, as the engine of `prisma_version` runs it.

    `severities` maps rule ids to "error", "warning", "info" or "off" and replaces their defaults
    (which depend on whether the file is one transaction: `Rule.default_level`); an unknown rule or
    level raises `LintConfigurationError`. `session_timeouts` names the timeouts (`lock_timeout`,
    `statement_timeout`) whoever runs the file sets on its session first, so the file need not.
    """
    facts = analyze_migration(script, name, prisma_version)
    assert facts.parsed is not None, "analyze_migration keeps what it parsed"
    levels = effective_levels(severities, transactional=facts.transactional)
    context = LintContext(name, script, facts.parsed, facts, find_suppressions(facts.parsed), enabled(levels), frozenset(session_timeouts))
    findings = []
    # Rules that judge the suppressions run once the others' findings have used them.
    for after_suppressions in (False, True):
        for rule in _rules(levels, after_suppressions):
            for violation in rule.check(context):
                statement, position = _place(context, violation)
                if context.suppressions.silence(rule.id, statement):
                    continue
                findings.append(
                    Finding(rule.id, levels[rule.id], violation.message, position.line, position.column, violation.help or rule.help, name, rule.family)
                )
    return sorted(findings, key=lambda finding: (finding.line, finding.column, finding.rule))


# Below this many files a process pool costs more than it saves.
_FILES_PER_PROCESS = 64


def _lint_one(item: tuple[str, str, Mapping[str, str] | None, frozenset[str], int]) -> list[Finding]:
    script, name, severities, session_timeouts, prisma_version = item
    return lint_migration(script, name, severities, session_timeouts, prisma_version)


def lint_migrations(
    local: LocalMigrations,
    severities: Mapping[str, str] | None = None,
    session_timeouts: Collection[str] = frozenset(),
    processes: int = 1,
    prisma_version: int = DEFAULT_PRISMA_VERSION,
) -> list[Finding]:
    """Every finding for every migration, in Prisma's order of the migrations, then by position.

    Each file is linted on its own, so with `processes` > 1 a large directory is spread over
    that many processes (forked: the rule catalogue is already loaded in each).
    """
    effective_levels(severities)  # refuse a bad override even when there is nothing to lint
    timeouts = frozenset(session_timeouts)
    items = [(migration.script, migration.name, severities, timeouts, prisma_version) for migration in local]
    processes = min(processes, len(items) // _FILES_PER_PROCESS)
    if processes > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(processes) as pool:
            per_file = pool.map(_lint_one, items, chunksize=max(1, len(items) // (processes * 4)))
    else:
        per_file = [_lint_one(item) for item in items]
    return [finding for findings in per_file for finding in findings]


def _rules(levels: Mapping[str, str], after_suppressions: bool) -> Iterable[Rule]:
    return (rule for rule_id, rule in sorted(RULES.items()) if rule.after_suppressions is after_suppressions and levels[rule_id] != OFF)


def _place(context: LintContext, violation: Violation) -> tuple[int | None, Position]:
    """(index of the top-level statement it is in, if any; its position in the file)."""
    statement = violation.statement
    if violation.position is not None:
        return _statement_at_line(context, violation.position.line), violation.position
    if statement is None:
        return None, Position(1, 1)
    top = context.top_index(statement)
    location = getattr(violation.node, "location", None)
    # Node locations are offsets into the text that was parsed: the file for top-level statements,
    # a PL/pgSQL expression for statements inside DO blocks, which only have a line.
    if statement.parent_index is None and isinstance(location, int) and location >= 0:
        return top, position_of(context.script, location)
    return top, statement.position


def _statement_at_line(context: LintContext, line: int) -> int | None:
    for index, statement in enumerate(context.statements):
        last_line = statement.position.line + statement.text.count("\n")
        if statement.position.line <= line <= last_line:
            return index
    return None
