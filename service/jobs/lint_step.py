"""A job's `lint` step: what it records, and the lines `gate` and `wait` print from it.

The step records every finding at the level the target's policy gives its rule, each with its
rule's family (`findings`), and the families whose warnings matter for a deploy
(`deploy_families`: transaction traps, lock safety, backward compatibility, as far as the
catalogue of the worker that ran the step has them; service.analysis.lint.registry). So the
selection travels with the job: a family added to the catalogue shows in every gate.

The lines say how many findings there are at each level, then list the warnings of those
families in the migrations the deploy applies (the job's `status` step names them); errors are
the verdict's reasons already. This module imports nothing of the linter: the CLI reads the step
from the job's journal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Most severe first, as the linter counts them (service.analysis.lint.findings.SEVERITIES).
_LEVELS = ("error", "warning", "info")
# A build log lists at most this many warnings; the job's report has them all.
SHOWN_WARNINGS = 10


def lint_step_data(findings: list[dict[str, Any]], deploy_families: Iterable[str]) -> dict[str, Any]:
    """What the `lint` step records: the findings as dicts (service.analysis.lint.Finding.to_dict)."""
    return {"findings": findings, "deploy_families": list(deploy_families)}


def _deploy_warnings(data: Mapping[str, Any], pending: Sequence[str] | None) -> list[Mapping[str, Any]]:
    """The warnings of the deploy families, in the `pending` migrations (all, when not known)."""
    families = set(data.get("deploy_families") or ())
    return [
        finding
        for finding in _findings(data)
        if finding.get("severity") == "warning" and finding.get("family") in families and (pending is None or finding.get("migration") in pending)
    ]


def lint_lines(data: Mapping[str, Any], job: Mapping[str, Any], pending: Sequence[str] | None) -> list[str]:
    """The count by level on one line, then the warnings that matter for this deploy with their help."""
    findings = _findings(data)
    headline = f"  lint (target {job.get('target')}'s policy): {_counts(findings)}"
    families = [str(family) for family in data.get("deploy_families") or ()]
    if not findings or not families:  # nothing to select from, or a step recorded before the selection existed
        return [headline]
    warnings = _deploy_warnings(data, pending)
    where = "in the pending migrations" if pending is not None else "in the bundle"
    lines = [f"{headline}; warnings that matter for this deploy ({', '.join(families)}): {len(warnings) or 'none'} {where}"]
    for finding in warnings[:SHOWN_WARNINGS]:
        lines.append(f"    {finding.get('migration')} line {finding.get('line')}: {finding.get('rule')} ({finding.get('family')}): {finding.get('message')}")
        if finding.get("help"):
            lines.append(f"      help: {finding['help']}")
    if len(warnings) > SHOWN_WARNINGS:
        lines.append(f"    … and {len(warnings) - SHOWN_WARNINGS} more: deploy-gate jobs report {job.get('id')}")
    return lines


def _findings(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [finding for finding in data.get("findings") or () if isinstance(finding, Mapping)]


def _counts(findings: list[Mapping[str, Any]]) -> str:
    if not findings:
        return "no findings"
    counts = Counter(finding.get("severity") for finding in findings)
    levels = ", ".join(f"{counts[level]} {level}" if level == "info" else _plural(counts[level], level) for level in _LEVELS if counts[level])
    migrations = len({finding.get("migration") for finding in findings})
    return f"{levels} in {_plural(migrations, 'migration')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
