import importlib
import pkgutil
import re

import pytest

from service.analysis.lint import FAMILIES, RULES, SEVERITIES, LintConfigurationError, registry, rules
from service.analysis.lint.registry import DEPLOY_RISK_FAMILIES, RuleDefinitionError, deploy_risk_families, effective_levels, rule

RULE_MODULES = sorted(module.name for module in pkgutil.iter_modules(rules.__path__))


def test_the_catalogue_holds_every_rule_module_and_nothing_else():
    assert sorted(rule_id.replace("-", "_") for rule_id in RULES) == RULE_MODULES
    assert len(RULES) >= 30


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_is_documented_and_named_after_its_module(rule_id):
    entry = RULES[rule_id]
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", rule_id)
    assert entry.module == f"service.analysis.lint.rules.{rule_id.replace('-', '_')}"
    assert entry.severity in SEVERITIES
    assert entry.family in FAMILIES
    assert entry.summary and "\n" not in entry.summary
    assert len(entry.problem) > 80 and len(entry.solution) > 40
    assert entry.help and "\n" not in entry.help
    assert entry.documentation.startswith(entry.summary)


def test_problem_and_solution_come_from_the_module_docstring():
    drop_table = RULES["drop-table"]
    module = importlib.import_module(drop_table.module)
    assert drop_table.problem in module.__doc__.replace("\n    ", "\n")
    assert drop_table.solution.startswith("Stop the application using the table first")


def test_every_family_has_a_rule():
    assert {entry.family for entry in RULES.values()} == set(FAMILIES)


def test_the_deploy_risk_families_are_those_of_the_list_the_catalogue_has():
    assert deploy_risk_families() == [family for family in DEPLOY_RISK_FAMILIES if family in FAMILIES]
    assert {"transaction", "locking"} <= set(deploy_risk_families()) <= set(FAMILIES)


def test_the_deploy_risk_families_include_backward_compatibility():
    assert deploy_risk_families() == ["transaction", "locking", "backward-compatibility"]


def test_a_deploy_risk_family_leaves_the_selection_when_the_catalogue_drops_it(monkeypatch):
    # A new mapping, not a deletion: the catalogue's own order stays as it is for the other tests.
    monkeypatch.setattr(registry, "FAMILIES", {name: words for name, words in FAMILIES.items() if name != "backward-compatibility"})
    assert deploy_risk_families() == ["transaction", "locking"]


def test_idempotency_rules_warn_rather_than_fail_since_prisma_never_writes_idempotent_sql():
    assert {entry.severity for entry in RULES.values() if entry.family == "idempotency"} == {"warning"}


def test_idempotency_rules_are_info_in_a_file_that_is_one_transaction_and_no_other_rule_changes():
    changed = {rule_id for rule_id, entry in RULES.items() if entry.default_level(True) != entry.default_level(False)}
    assert changed == {rule_id for rule_id, entry in RULES.items() if entry.family == "idempotency"}
    assert {RULES[rule_id].default_level(True) for rule_id in changed} == {"info"}
    assert all(entry.default_level(False) == entry.severity for entry in RULES.values())


def test_an_override_applies_to_every_file():
    assert effective_levels({"drop-without-if-exists": "error"}, transactional=True)["drop-without-if-exists"] == "error"
    assert effective_levels(transactional=True)["drop-without-if-exists"] == "info"
    assert effective_levels()["drop-without-if-exists"] == "warning"


def _documented_check(context):
    """Summary.

    Problem:
        What goes wrong.

    Solution:
        What to do.
    """
    return ()


def _undocumented_check(context):
    """Only a summary."""
    return ()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("Bad_Id", "error", "danger", "Fix it."), "not kebab-case"),
        (("good-id", "fatal", "danger", "Fix it."), "severity 'fatal'"),
        (("good-id", "error", "misc", "Fix it."), "family 'misc'"),
        (("good-id", "error", "danger", "Two\nlines."), "help must be one line"),
        (("drop-table", "error", "danger", "Fix it."), "already registered"),
    ],
)
def test_registration_refuses_rules_that_break_the_conventions(arguments, message):
    rule_id, severity, family, help = arguments
    with pytest.raises(RuleDefinitionError, match=message):
        rule(rule_id, severity=severity, family=family, help=help)(_documented_check)
    assert "good-id" not in RULES


def test_registration_refuses_a_rule_without_problem_and_solution():
    with pytest.raises(RuleDefinitionError, match="Problem: section"):
        rule("undocumented", severity="info", family="style", help="Fix it.")(_undocumented_check)
    assert "undocumented" not in RULES


def test_levels_default_to_each_rules_severity_and_take_overrides():
    levels = effective_levels({"drop-table": "WARNING", "truncate": "off"})
    assert levels["drop-table"] == "warning" and levels["truncate"] == "off"
    assert levels["drop-column"] == RULES["drop-column"].severity


@pytest.mark.parametrize(
    "overrides, message",
    [({"no-such-rule": "error"}, "Unknown rule 'no-such-rule'"), ({"drop-table": "fatal"}, "Level 'fatal' for drop-table")],
)
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(LintConfigurationError, match=message):
        effective_levels(overrides)


def test_every_rule_has_a_test_module_of_the_same_name():
    from tests.service.analysis.lint import rules as rule_tests

    tested = {module.name.removeprefix("test_") for module in pkgutil.iter_modules(rule_tests.__path__)}
    assert set(RULE_MODULES) <= tested
