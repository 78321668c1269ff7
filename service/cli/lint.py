"""`lint`: the pre-deploy checks of the runbook, over every migration of a directory, with no database."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.analysis.lint import (
    ERROR,
    FAMILIES,
    INFO,
    RULES,
    SEVERITIES,
    Finding,
    LintConfigurationError,
    Rule,
    effective_levels,
    lint_migrations,
)
from service.cli import EXIT_CANNOT_RUN, EXIT_UNHEALTHY, Output, main, prisma_version_option, project_prisma_version, read_local_migrations
from service.prisma import errors
from service.prisma.execution import DEFAULT_PRISMA_VERSION
from service.prisma.migrations import LocalMigrations

if TYPE_CHECKING:
    from service.config.records import LintTarget

# GitHub workflow commands have no "info" level; "notice" is its closest.
_GITHUB_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


@main.command()
@click.argument("migrations_dir", default="prisma/migrations", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (same as --format json).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github prints GitHub Actions annotations.",
)
@click.option(
    "--target",
    "target_name",
    metavar="NAME",
    help="Lint as deploy-gate applies to this target: its policy and rule levels from the targets file (DEPLOY_GATE_CONFIG).",
)
@click.option("--severity", "overrides", multiple=True, metavar="RULE=LEVEL", help="Set a rule to error, warning, info or off (repeatable; over the target's).")
@click.option("--explain", "explain_rule", metavar="RULE", help="Print a rule's problem and solution, and exit.")
@click.option("--list-rules", is_flag=True, help="Print every rule with its default severity, and exit.")
@prisma_version_option
def lint(
    migrations_dir: Path,
    as_json: bool,
    output_format: str,
    target_name: str | None,
    overrides: tuple[str, ...],
    explain_rule: str | None,
    list_rules: bool,
    prisma_version: str | None,
) -> None:
    """Lint every migration; exit 0 with no error-level finding, 1 with one, 2 when it cannot run."""
    if as_json and output_format == "github":
        Output(False).error(None, "Pass either --json or --format github, not both.", EXIT_CANNOT_RUN)
    output = Output(as_json or output_format == "json")
    if explain_rule:
        _explain(output, explain_rule)
        return
    if list_rules:
        _list_rules(output)
        return
    target = _lint_target(output, target_name) if target_name is not None else None
    severities = _parse_overrides(output, overrides)
    session_timeouts: frozenset[str] = frozenset()
    if target is not None:
        severities = {**target.lint_severities, **severities}
        session_timeouts = target.policy.session_timeouts
    local = read_local_migrations(output, migrations_dir)
    try:
        local.check_provider()
    except errors.ProviderSwitched as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)
    follows = project_prisma_version(output, migrations_dir, prisma_version) or DEFAULT_PRISMA_VERSION
    findings = lint_migrations(local, severities, session_timeouts, processes=os.cpu_count() or 1, prisma_version=follows)
    counts = Counter(finding.severity for finding in findings)
    paths = {migration.name: migration.path or migration.name for migration in local}
    if output.as_json:
        output.document(
            {
                "migrations_directory": str(migrations_dir),
                "prisma_version": follows,
                "migrations": len(local),
                "findings": [finding.to_dict() | {"file": paths[finding.migration]} for finding in findings],
                "counts": {severity: counts[severity] for severity in SEVERITIES},
            }
        )
    elif output_format == "github":
        output.lines(_annotation(finding, paths[finding.migration]) for finding in findings)
    elif findings:
        output.lines(
            f"{finding.migration}:{finding.line}:{finding.column}  {finding.severity}  {finding.rule}  {finding.message}\n    help: {finding.help}"
            for finding in findings
        )
    output.line(_summary(findings, counts, local))
    sys.exit(EXIT_UNHEALTHY if counts[ERROR] else 0)


def _lint_target(output: Output, name: str) -> LintTarget:
    """The target's policy and rule levels from the targets file, refused (exit 2) when it cannot
    be read, names no such target, or sets a level for a rule that does not exist."""
    # Loaded only with --target: a plain lint reads no configuration.
    from service.config.errors import ConfigError
    from service.config.load import load_lint_target
    from service.config.settings import Settings

    try:
        path = Settings.from_env().config_file
        target = load_lint_target(path, name)
        effective_levels(target.lint_severities)
    except ConfigError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    except LintConfigurationError as error:
        output.error(None, f"{path}: targets.{name}.lint: {error}", EXIT_CANNOT_RUN)
    return target


def _parse_overrides(output: Output, overrides: tuple[str, ...]) -> dict[str, str]:
    """The --severity options as a mapping, refused (exit 2) unless every rule and level exists."""
    severities = {}
    for override in overrides:
        rule_id, separator, level = override.partition("=")
        if not separator or not rule_id.strip() or not level.strip():
            output.error(None, f"--severity takes RULE=LEVEL, not {override!r}.", EXIT_CANNOT_RUN)
        severities[rule_id.strip()] = level.strip()
    try:
        effective_levels(severities)
    except LintConfigurationError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    return severities


def _summary(findings: list[Finding], counts: Mapping[str, int], local: LocalMigrations) -> str:
    total = len(local)
    migrations = f"{total} migration{'' if total == 1 else 's'}"
    if not findings:
        return f"No findings in {migrations}."
    affected = len({finding.migration for finding in findings})
    parts = ", ".join(_count(counts[severity], severity) for severity in SEVERITIES if counts[severity])
    return f"{len(findings)} finding{'' if len(findings) == 1 else 's'} in {affected} of {migrations}: {parts}."


def _count(number: int, severity: str) -> str:
    return f"{number} {severity}" if number == 1 or severity == INFO else f"{number} {severity}s"


def _annotation(finding: Finding, path: str) -> str:
    """A GitHub Actions workflow command, escaped as the runner expects."""
    properties = f"file={_escape_property(path)},line={finding.line},col={finding.column},title={_escape_property(finding.rule)}"
    message = _escape_data(f"{finding.message}\nhelp: {finding.help}")
    return f"::{_GITHUB_LEVELS[finding.severity]} {properties}::{message}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _explain(output: Output, rule_id: str) -> None:
    rule = RULES.get(rule_id)
    if rule is None:
        output.error(None, f"Unknown rule {rule_id!r}; `deploy-gate lint --list-rules` lists them.", EXIT_CANNOT_RUN)
    output.document(_rule_document(rule))
    in_transaction = rule.default_level(True)
    quieter = "" if in_transaction == rule.severity else f"; {in_transaction} in a file Prisma runs as one transaction"
    output.line(f"{rule.id}  ({rule.severity}, {rule.family}{quieter})")
    output.line(rule.summary)
    for title, text in (("Problem", rule.problem), ("Solution", rule.solution)):
        output.line()
        output.line(f"{title}:")
        for line in text.splitlines():
            output.line(f"  {line}" if line else "")
    output.line()
    output.line(f"Fix: {rule.help}")


def _list_rules(output: Output) -> None:
    families = list(FAMILIES)
    rules = sorted(RULES.values(), key=lambda rule: (families.index(rule.family), rule.id))
    output.document({"rules": [_rule_document(rule) for rule in rules]})
    width = max(len(rule.id) for rule in rules)
    family_width = max(len(family) for family in families)
    for rule in rules:
        output.line(f"{rule.id:<{width}}  {_severity_column(rule):<12}  {rule.family:<{family_width}}  {rule.summary}")


def _severity_column(rule: Rule) -> str:
    """`warning/info`: a warning, info where the file is one transaction."""
    in_transaction = rule.default_level(True)
    return rule.severity if in_transaction == rule.severity else f"{rule.severity}/{in_transaction}"


def _rule_document(rule: Rule) -> dict[str, str]:
    return {
        "id": rule.id,
        "severity": rule.severity,
        # The default in a file Prisma runs as one transaction (see Rule.default_level).
        "severity_in_one_transaction": rule.default_level(True),
        "family": rule.family,
        "summary": rule.summary,
        "problem": rule.problem,
        "solution": rule.solution,
        "help": rule.help,
    }
