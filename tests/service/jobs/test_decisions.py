"""A person's decisions on a real store: approve enqueues the job again, reject blocks it (and its parent), cancel records who."""

import pytest

from service.jobs import decisions
from service.jobs.states import IllegalTransition, JobKind, JobState, Verdict
from service.store import repository
from service.store.repository import NotWaitingForApproval


@pytest.fixture
def store(scratch_db):
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


def waiting(store, parent_id=None):
    job, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ci", parent_id=parent_id)
    repository.transition(store, job.id, JobState.RUNNING)
    return repository.transition(store, job.id, JobState.WAITING_APPROVAL, facts={"approval": {"step": "act:1", "plan": ["roll back"]}})


def test_approve_runs_the_job_again_and_enqueues_it(store):
    job, enqueued = waiting(store), []
    approved = decisions.approve(store, job.id, "oncall", "fine", enqueued.append)
    assert approved.state is JobState.RUNNING and enqueued == [job.id]
    assert repository.approval_for(store, job.id, "act:1")["by"] == "oncall"
    with pytest.raises(NotWaitingForApproval):
        decisions.approve(store, job.id, "oncall", None, enqueued.append)
    assert enqueued == [job.id]


def test_reject_blocks_the_job_and_the_deploy_that_started_it(store):
    parent, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
    repository.transition(store, parent.id, JobState.RUNNING)
    job = waiting(store, parent_id=parent.id)
    rejected = decisions.reject(store, job.id, "oncall", "too risky")
    assert (rejected.state, rejected.verdict, rejected.reasons) == (JobState.SUCCEEDED, Verdict.BLOCKED, ["rejected by oncall: too risky"])
    assert repository.get_job(store, parent.id).verdict is Verdict.BLOCKED


def test_cancel_records_who_and_a_finished_job_stays_finished(store):
    job = waiting(store)
    canceled = decisions.cancel(store, job.id, "ci")
    assert canceled.state is JobState.CANCELED and repository.job_events(store, job.id)[-1].data == {"by": "ci"}
    with pytest.raises(IllegalTransition):
        decisions.cancel(store, job.id, "ci")
