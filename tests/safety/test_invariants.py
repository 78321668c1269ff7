"""The safety invariants over every corpus migration and every failure injected into it.

Each case (a migration, an injection, a target policy) runs once; each invariant is its own test,
so a failure names all three: `<migration>-<injection>=<detail>-<policy>-<invariant>`.
Developers may deselect the suite locally with `-m "not safety"`; CI never does.
"""

from __future__ import annotations

import os

import pytest

from tests.safety.cases import plan_cases
from tests.safety.corpus import corpus_replay
from tests.safety.invariants import INVARIANTS

pytestmark = pytest.mark.safety

CASES = plan_cases(corpus_replay())


def _params():
    for case in CASES:
        for invariant in INVARIANTS:
            if invariant == "prisma_cli_agrees" and not case.prisma_cli:
                continue  # the CLI takes about a second: one target per migration
            yield pytest.param(case, invariant, id=f"{case.id}-{invariant}")


@pytest.mark.parametrize(("case", "invariant"), list(_params()))
def test_invariant(case, invariant, outcome_of, record_property):
    record_property("safety_case", case.id)
    record_property("safety_migration", case.migration)
    record_property("safety_injection", case.injection)
    record_property("safety_invariant", invariant)
    outcome = outcome_of(case)
    if invariant == "prisma_cli_agrees" and not outcome.prisma_cli_ran:
        if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA") == "1":
            pytest.fail("the Prisma CLI is required (make prisma-cli)")
        pytest.skip("Prisma CLI not installed (make prisma-cli)")
    INVARIANTS[invariant](outcome, corpus_replay())
