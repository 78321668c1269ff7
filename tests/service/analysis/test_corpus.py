"""The analysis against a corpus of realistic migrations, each checked against a person's reading
of its SQL (`corpus/expectations.py`). Where the tool is known to be wrong the case is a strict
xfail naming the bug, so fixing it turns the case into a failure until the mark is removed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import DataChange, Effect, MigrationFacts
from service.analysis.lint import ERROR, INFO, RULES, WARNING, Finding, lint_migration
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, probe_effects
from service.analysis.rollback import RollbackPlan, rollback_plan
from service.prisma import history
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from tests.service.analysis.corpus.expectations import EXPECTED, Expected

CORPUS = Path(__file__).parent / "corpus"
FACTS = ("parses", "transactional", "idempotent", "reversible", "effects", "data_changes", "rollback")
LINT = ("lint_errors", "lint_warnings", "lint_infos", "lint_absent")


def read_migration(name: str) -> str:
    return (CORPUS / name / "migration.sql").read_text(encoding="utf-8")


@cache
def analysed(name: str) -> tuple[MigrationFacts, RollbackPlan]:
    script = read_migration(name)
    facts = analyze_migration(script, name)
    return facts, rollback_plan(script, facts)


@cache
def linted(name: str) -> tuple[Finding, ...]:
    return tuple(lint_migration(read_migration(name), name))


def qualified(*parts: str | None) -> str:
    return ".".join(part for part in parts if part)


def effect_key(effect: Effect) -> tuple[str, str, str]:
    return effect.action, effect.kind, qualified(effect.schema, effect.parent, effect.name)


def data_change_key(change: DataChange) -> tuple[str, str, bool]:
    return change.kind, qualified(change.schema, change.table), change.guarded


def observed(aspect: str, facts: MigrationFacts, plan: RollbackPlan) -> object:
    if aspect == "effects":
        return {effect_key(effect) for effect in facts.effects}
    if aspect == "data_changes":
        return {data_change_key(change) for change in facts.data_changes}
    if aspect == "rollback":
        return plan.source, plan.complete
    return getattr(facts, aspect)


def expected_value(aspect: str, expected: Expected) -> object:
    if aspect == "rollback":
        return expected.rollback_source, expected.rollback_complete
    return getattr(expected, aspect)


def cases(aspects: tuple[str, ...]) -> list[object]:
    """One case per migration and aspect, a strict xfail where the expectations name a bug."""
    params = []
    for name, expected in EXPECTED.items():
        for aspect in aspects:
            marks = [pytest.mark.xfail(strict=True, reason=expected.bugs[aspect])] if aspect in expected.bugs else []
            params.append(pytest.param(name, aspect, id=f"{name}-{aspect}", marks=marks))
    return params


def test_every_corpus_migration_has_expectations():
    folders = {path.parent.name for path in CORPUS.glob("*/migration.sql")}
    assert folders == set(EXPECTED)
    assert len(folders) >= 40


def test_expected_bugs_name_real_aspects():
    aspects = set(FACTS) | set(LINT)
    assert {aspect for expected in EXPECTED.values() for aspect in expected.bugs} <= aspects


def test_expected_lint_rules_exist():
    named = set()
    for expected in EXPECTED.values():
        named |= expected.lint_errors | expected.lint_warnings | expected.lint_infos | expected.lint_absent
    assert named - set(RULES) == set()
    assert {RULES[rule_id].severity for expected in EXPECTED.values() for rule_id in expected.lint_errors} <= {ERROR}


@pytest.mark.parametrize(("name", "aspect"), cases(FACTS))
def test_facts_match_a_reading_of_the_sql(name: str, aspect: str):
    facts, plan = analysed(name)
    assert observed(aspect, facts, plan) == expected_value(aspect, EXPECTED[name])


@pytest.mark.parametrize(("name", "aspect"), cases(LINT))
def test_lint_findings_match_a_reading_of_the_sql(name: str, aspect: str):
    expected = EXPECTED[name]
    findings = linted(name)
    if aspect == "lint_errors":
        assert {finding.rule for finding in findings if finding.severity == ERROR} == expected.lint_errors
    elif aspect == "lint_warnings":
        assert expected.lint_warnings <= {finding.rule for finding in findings if finding.severity == WARNING}
    elif aspect == "lint_infos":
        assert expected.lint_infos <= {finding.rule for finding in findings if finding.severity == INFO}
    else:
        assert not expected.lint_absent & {finding.rule for finding in findings}


def test_every_corpus_migration_probes_as_done_once_postgresql_ran_it(conn):
    """The shapes the SQL states never contradict what PostgreSQL itself made of it: each corpus
    migration, applied on the history before it, probes with no effect missing, of another shape
    or invalid. Those that fail on a clean replay are left out of later histories."""
    scripts = {path.parent.name: read_migration(path.parent.name) for path in sorted(CORPUS.glob("*/migration.sql"))}
    applied: dict[str, str] = {}
    probed, wrong = [], []
    for name, script in scripts.items():
        outcome = deploy(conn, "public", migrations_from_bundle({**applied, name: script}))
        if not outcome.succeeded:
            conn.execute(f'DELETE FROM "{history.MIGRATIONS_TABLE}" WHERE "migration_name" = %s', (name,))
            continue
        applied[name] = script
        probe = probe_effects(conn, with_table_shapes(analyze_migration(script, name)), "public")
        probed.append(name)
        wrong += [
            f"{name}: {check.effect.qualified} {check.status}: {check.note}"
            for check in probe.checks
            if check.status in (CheckStatus.NOT_DONE, CheckStatus.OTHER_SHAPE, CheckStatus.INVALID)
        ]
    assert len(probed) >= 40
    assert wrong == []
