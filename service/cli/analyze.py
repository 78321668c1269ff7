"""`analyze`: what deploy-gate knows about each migration, and how it would be rolled back."""

from __future__ import annotations

from pathlib import Path

import click

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import MigrationFacts
from service.analysis.rollback import RollbackPlan, rollback_plan
from service.cli import EXIT_CANNOT_RUN, Output, main, prisma_version_option, project_prisma_version, read_local_migrations
from service.prisma.execution import DEFAULT_PRISMA_VERSION


@main.command()
@click.argument("migrations_dir", default="prisma/migrations", type=click.Path(path_type=Path))
@click.option("--migration", "names", multiple=True, metavar="NAME", help="Only this migration (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@prisma_version_option
def analyze(migrations_dir: Path, names: tuple[str, ...], as_json: bool, prisma_version: str | None) -> None:
    """Facts per migration: transactional, idempotent, reversible, effects, rollback plan."""
    output = Output(as_json)
    local = read_local_migrations(output, migrations_dir)
    follows = project_prisma_version(output, migrations_dir, prisma_version) or DEFAULT_PRISMA_VERSION
    unknown = [name for name in names if local.get(name) is None]
    if unknown:
        output.error(None, f"No migration named {', '.join(unknown)} in {migrations_dir}.", EXIT_CANNOT_RUN)
    documents = []
    for migration in local:
        if names and migration.name not in names:
            continue
        facts = analyze_migration(migration.script, migration.name, follows)
        plan = rollback_plan(migration.script, facts)
        documents.append({**facts.to_dict(), "rollback": plan.to_dict()})
        _print_facts(output, facts, plan)
    output.document({"migrations_directory": str(migrations_dir), "prisma_version": follows, "migrations": documents})


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _print_facts(output: Output, facts: MigrationFacts, plan: RollbackPlan) -> None:
    output.line(f"{facts.name}")
    for problem in facts.problems:
        output.line(f"  does not parse: line {problem.position.line}, column {problem.position.column}: {problem.message}")
    for label, value, reasons in (
        ("transactional", facts.transactional, facts.not_transactional_because),
        ("idempotent", facts.idempotent, facts.unguarded),
        ("reversible", facts.reversible, facts.irreversible),
    ):
        output.line(f"  {label:<14}{_yes_no(value)}")
        for reason in reasons:
            output.line(f"    line {reason.line}: {reason.message}")
    for effect in facts.effects:
        guard = " (guarded)" if effect.guarded else ""
        output.line(f"  {effect.action:<7}{effect.kind.replace('_', ' ')} {effect.qualified}{guard}")
    for change in facts.data_changes:
        output.line(f"  data   {change.kind} {change.table}{' (guarded)' if change.guarded else ''}")
    state = "complete" if plan.complete else "incomplete"
    output.line(f"  rollback       {plan.source}, {state}")
    for line in plan.sql.splitlines():
        output.line(f"    {line}")
    for reason in plan.reasons:
        output.line(f"    note (line {reason.line}): {reason.message}")
    output.line()
