"""The safety invariants (/work/shared/DESIGN.md, "Safety invariants the recovery engine must
keep"), each a check that raises AssertionError with what differed.

1. `proceed` ⇒ every migration the job applied or marked applied has its objects as a clean replay
   of the applied history makes them (compared on the objects that migration touches in the
   replay), and no index on the target is INVALID or not ready.
2. `blocked` ⇒ the target's schema is as it was before the deploy (after the injection) and the
   failed migration is recorded failed or rolled back, not applied; or the job waits for approval
   and nothing was written to the target after its decision.
3. No write to the target while another session holds Prisma's lock 72707369.
4. The real Prisma CLI's `migrate status` agrees with deploy-gate's reading of the history.

A job that never reaches a verdict or an approval wait fails `settles` instead: none of the
implications above can be judged for it.
"""

from __future__ import annotations

from collections.abc import Callable

from service.analysis.fingerprint import Fingerprint, diff
from service.jobs.states import Verdict
from service.prisma.status import MigrationState
from tests.safety.corpus import CorpusReplay, touched_keys
from tests.safety.harness import Outcome

APPLIED_STATES = {MigrationState.APPLIED.value, MigrationState.REAPPLIED.value}


def settles(outcome: Outcome, replay: CorpusReplay) -> None:
    assert outcome.settled, f"the job did not settle: {outcome.not_settled_because}; {outcome.summary}"


def proceed_matches_replay(outcome: Outcome, replay: CorpusReplay) -> None:
    if outcome.verdict != Verdict.PROCEED.value:
        return
    problems = [f"unusable index left on the target: {index}" for index in outcome.unusable_indexes]
    newly_applied = [name for name in outcome.applied_after if name not in outcome.applied_before]
    truth = replay.ground_truth(outcome.applied_after)
    for position, name in enumerate(outcome.applied_after):
        if name not in newly_applied:
            continue
        before = replay.ground_truth(outcome.applied_after[:position])
        after = replay.ground_truth(outcome.applied_after[: position + 1])
        if before is None or after is None or truth is None:
            problems.append(f"{name} is applied, but a clean replay of the applied history fails at it")
            continue
        keys = touched_keys(before, after)
        differences = diff(_restricted(truth, keys), _restricted(outcome.after, keys))
        problems += [f"{name}: {difference} (live target vs clean replay)" for difference in differences]
    assert not problems, f"proceed over a schema the migrations did not produce: {problems}; {outcome.summary}"


def blocked_leaves_target_as_before(outcome: Outcome, replay: CorpusReplay) -> None:
    if outcome.waiting_job is not None:
        written = [str(write) for write in outcome.writes if outcome.decided_at and write.at > outcome.decided_at]
        assert not written, f"the job waits for approval, yet the target was written after its decision: {written}; {outcome.summary}"
        return
    if outcome.verdict != Verdict.BLOCKED.value:
        return
    problems = [f"the target differs from before the deploy: {difference}" for difference in diff(outcome.before, outcome.after)]
    if outcome.migration_state in APPLIED_STATES:
        problems.append(f"{outcome.case.migration} is recorded {outcome.migration_state} (Prisma would not apply it again)")
    assert not problems, f"blocked, but not as before the migration: {problems}; {outcome.summary}"


def no_write_under_prisma_lock(outcome: Outcome, replay: CorpusReplay) -> None:
    violations = [str(write) for write in outcome.writes if write.prisma_lock_holder is not None]
    assert not violations, f"written while another session held Prisma's lock: {violations}; {outcome.lock_sessions}; {outcome.summary}"
    if outcome.case.prisma_lock:
        assert outcome.prisma_lock_held_from is not None, f"the injection never took Prisma's lock: {outcome.lock_sessions}; {outcome.summary}"


def prisma_cli_agrees(outcome: Outcome, replay: CorpusReplay) -> None:
    assert outcome.prisma_cli_disagrees is None, f"prisma migrate status disagrees: {outcome.prisma_cli_disagrees}; {outcome.summary}"


INVARIANTS: dict[str, Callable[[Outcome, CorpusReplay], None]] = {
    "settles": settles,
    "proceed_matches_replay": proceed_matches_replay,
    "blocked_leaves_target_as_before": blocked_leaves_target_as_before,
    "no_write_under_prisma_lock": no_write_under_prisma_lock,
    "prisma_cli_agrees": prisma_cli_agrees,
}


def _restricted(fingerprint: Fingerprint, keys: dict[str, set]) -> Fingerprint:
    objects = {category: {key: value for key, value in entries.items() if key in keys.get(category, ())} for category, entries in fingerprint.objects.items()}
    return Fingerprint(fingerprint.schemas, objects)
