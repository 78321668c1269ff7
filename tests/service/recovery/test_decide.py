"""The decision table, row by row, from facts alone (the real failures are in tests/service/jobs/test_recover.py)."""

from dataclasses import replace

import pytest

from service.jobs.states import Verdict
from service.recovery.decide import MAX_LOCK_WAITS, Action, ErrorClass, FailureFacts, classify_sqlstate, decide


@pytest.mark.parametrize(
    "sqlstate, expected",
    [
        ("55P03", ErrorClass.TRANSIENT),
        ("40P01", ErrorClass.TRANSIENT),
        ("57P01", ErrorClass.TRANSIENT),
        ("08006", ErrorClass.TRANSIENT),
        ("53300", ErrorClass.TRANSIENT),
        ("42P07", ErrorClass.ALREADY_EXISTS),
        ("42701", ErrorClass.ALREADY_EXISTS),
        ("23505", ErrorClass.DATA),
        ("22P02", ErrorClass.DATA),
        ("42601", ErrorClass.DEFINITION),
        ("25001", ErrorClass.DEFINITION),
        ("42501", ErrorClass.DEFINITION),
        ("XX000", ErrorClass.UNKNOWN),
        (None, ErrorClass.UNKNOWN),
    ],
)
def test_error_classes(sqlstate, expected):
    assert classify_sqlstate(sqlstate) is expected


FAILED = FailureFacts(
    migration_name="20240102_x",
    sqlstate="55P03",
    message="canceling statement due to lock timeout",
    error_class=ErrorClass.TRANSIENT,
    in_bundle=True,
    parses=True,
    effects="none",
    fully_probed=True,
    invalid_indexes=(),
    transactional=True,
    idempotent=False,
    rollback_source="derived",
    rollback_complete=True,
    rollback_verified=None,
    attempts=1,
    max_automatic_retries=1,
    automatic_rollback=False,
)
PARTIAL = replace(FAILED, effects="partial", transactional=False, sqlstate="23514", error_class=ErrorClass.DATA)


@pytest.mark.parametrize(
    "facts, action, verdict, approval",
    [
        (replace(FAILED, lock_holder="pid 7 (prisma)"), Action.WAIT_FOR_LOCK, None, False),
        (replace(FAILED, lock_holder="pid 7", lock_waits=MAX_LOCK_WAITS), Action.NONE, Verdict.BLOCKED, False),
        (replace(FAILED, effects="all", shapes_verified=True), Action.MARK_APPLIED, Verdict.PROCEED, False),
        (replace(FAILED, effects="all", shapes_verified=True, fully_probed=False), Action.MARK_APPLIED, None, True),
        # Compared only with the shapes the SQL states (no shadow): a person confirms.
        (replace(FAILED, effects="all"), Action.MARK_APPLIED, None, True),
        # Unless this job was running the file when its worker died: the script committed.
        (replace(FAILED, effects="all", sqlstate=None, interrupted_here=True), Action.MARK_APPLIED, Verdict.PROCEED, False),
        (FAILED, Action.RETRY, None, False),
        (replace(FAILED, attempts=2), Action.MARK_ROLLED_BACK, Verdict.BLOCKED, False),
        (replace(FAILED, sqlstate="42703", error_class=ErrorClass.DEFINITION), Action.MARK_ROLLED_BACK, Verdict.BLOCKED, False),
        (replace(FAILED, transactional=False, effects="none"), Action.RETRY, None, False),
        (replace(PARTIAL, idempotent=True), Action.RETRY, None, False),
        (replace(PARTIAL, idempotent=True, attempts=2, rollback_complete=False), Action.NONE, Verdict.BLOCKED, False),
        (replace(PARTIAL, rollback_verified=True, automatic_rollback=True), Action.RUN_ROLLBACK, Verdict.BLOCKED, False),
        (replace(PARTIAL, rollback_verified=True), Action.RUN_ROLLBACK, None, True),
        (replace(PARTIAL, rollback_verified=False, automatic_rollback=True), Action.RUN_ROLLBACK, None, True),
        (
            replace(PARTIAL, rollback_verified=True, automatic_rollback=True, rollback_needs_approval=("would drop table public.A",)),
            Action.RUN_ROLLBACK,
            None,
            True,
        ),
        (replace(PARTIAL, rollback_complete=False), Action.NONE, Verdict.BLOCKED, False),
        (replace(FAILED, in_bundle=False, parses=False, effects="unknown", transactional=False), Action.NONE, Verdict.BLOCKED, False),
    ],
)
def test_each_row_of_the_table(facts, action, verdict, approval):
    decision = decide(facts)
    assert (decision.action, decision.verdict, decision.needs_approval) == (action, verdict, approval)
    assert decision.reasons and all(isinstance(reason, str) and reason for reason in decision.reasons)


def test_a_transient_partial_failure_is_rolled_back_then_retried():
    decision = decide(replace(PARTIAL, sqlstate="55P03", error_class=ErrorClass.TRANSIENT, rollback_verified=True, automatic_rollback=True))
    assert (decision.action, decision.then_retry, decision.verdict) == (Action.RUN_ROLLBACK, True, None)
    assert decision.plan[-1] == "apply 20240102_x again"


def test_invalid_indexes_are_dropped_before_a_retry():
    decision = decide(replace(PARTIAL, idempotent=True, invalid_indexes=("public.Tag_idx",)))
    assert decision.drop_invalid_indexes == ("public.Tag_idx",)
    assert "the INVALID indexes public.Tag_idx are dropped first: IF NOT EXISTS would keep them invalid, and PostgreSQL never uses them" in decision.reasons


def test_a_syntax_error_left_nothing_whatever_the_transaction_control():
    facts = replace(FAILED, sqlstate="42601", error_class=ErrorClass.DEFINITION, parses=False, transactional=False, effects="unknown")
    decision = decide(facts)
    assert (decision.action, decision.verdict) == (Action.MARK_ROLLED_BACK, Verdict.BLOCKED)
    assert "PostgreSQL rejected 20240102_x before running any of it (a syntax error)" in decision.reasons


def test_an_interrupted_run_counts_as_transient_and_not_as_an_attempt():
    decision = decide(replace(FAILED, sqlstate=None, error_class=ErrorClass.TRANSIENT, attempts=1))
    assert decision.action is Action.RETRY


def test_the_decision_and_facts_are_plain_data():
    decision = decide(FAILED)
    assert decision.to_dict()["action"] == "retry" and decision.to_dict()["verdict"] is None
    assert FAILED.to_dict()["error_class"] == "transient" and FAILED.to_dict()["retries_left"] == 1


@pytest.mark.parametrize(
    "facts",
    [
        replace(FAILED, invalid_indexes=("public.Order_status_idx",)),
        replace(FAILED, invalid_indexes=("public.Order_status_idx",), attempts=2),
        replace(PARTIAL, invalid_indexes=("public.Order_status_idx",), idempotent=True),
        replace(PARTIAL, invalid_indexes=("public.Order_status_idx",), rollback_verified=True, automatic_rollback=True),
    ],
    ids=["retry", "mark-rolled-back", "partial-retry", "rollback"],
)
def test_invalid_indexes_are_dropped_in_every_branch_that_marks_the_migration_rolled_back(facts):
    decision = decide(facts)
    assert decision.action in (Action.RETRY, Action.MARK_ROLLED_BACK, Action.RUN_ROLLBACK)
    assert decision.drop_invalid_indexes == ("public.Order_status_idx",)
    assert any("INVALID" in reason and "public.Order_status_idx" in reason for reason in decision.reasons)


def test_a_verified_rollback_the_policy_allows_still_waits_when_it_drops_data_or_what_the_migration_did_not_make():
    needs = ("would drop table public.Invoice; 3 rows would be lost", "would drop table public.Legacy, which this migration did not create")
    decision = decide(replace(PARTIAL, rollback_verified=True, automatic_rollback=True, rollback_needs_approval=needs))
    assert (decision.action, decision.needs_approval, decision.verdict) == (Action.RUN_ROLLBACK, True, None)
    assert decision.plan[:2] == tuple(f"check: it {note}" for note in needs)
    assert (
        decision.reasons[-1]
        == "its rollback SQL (derived) is complete and was verified on the shadow server, but it " + "; it ".join(needs) + ", which only a person may allow"
    )
    unverified = decide(replace(PARTIAL, rollback_verified=False, rollback_needs_approval=needs[:1]))
    assert unverified.reasons[-1].endswith("which only a person may allow (its rollback SQL did not pass verification on the shadow server)")
