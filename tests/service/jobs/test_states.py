import pytest

from service.jobs.states import ACTIVE, ALLOWED_TRANSITIONS, TERMINAL, IllegalTransition, JobState, check_transition


def test_every_state_has_a_row_and_terminal_states_go_nowhere():
    assert set(ALLOWED_TRANSITIONS) == set(JobState)
    assert set(JobState) == TERMINAL | ACTIVE and not TERMINAL & ACTIVE
    for state in TERMINAL:
        assert ALLOWED_TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize(
    "current, requested",
    [
        (JobState.QUEUED, JobState.RUNNING),
        (JobState.RUNNING, JobState.WAITING_APPROVAL),
        (JobState.WAITING_APPROVAL, JobState.RUNNING),
        (JobState.RUNNING, JobState.SUCCEEDED),
        (JobState.QUEUED, JobState.CANCELED),
        (JobState.WAITING_APPROVAL, JobState.SUCCEEDED),  # rejected: a blocked verdict
    ],
)
def test_allowed(current, requested):
    check_transition("j", current, requested)


@pytest.mark.parametrize(
    "current, requested",
    [
        (JobState.QUEUED, JobState.SUCCEEDED),
        (JobState.SUCCEEDED, JobState.RUNNING),
        (JobState.CANCELED, JobState.QUEUED),
        (JobState.QUEUED, JobState.WAITING_APPROVAL),
    ],
)
def test_refused(current, requested):
    with pytest.raises(IllegalTransition, match=f"from {current.value} to {requested.value}"):
        check_transition("j", current, requested)
