import threading
import time

import psycopg
import pytest

from service.jobs.states import IllegalTransition, JobKind, JobState, Verdict
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from service.store.repository import JobNotFound, NewJob
from tests.service.store.repository.helpers import new_job


def test_created_job_is_queued_with_its_first_event(store):
    job = new_job(store, params={"phase": "pre"})
    assert job.state is JobState.QUEUED and job.verdict is None
    assert job.params == {"phase": "pre"}
    [event] = repository.job_events(store, job.id)
    assert (event.kind, event.to_state) == ("transition", "queued")


def test_idempotency_key_returns_the_same_job(store):
    first, created = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", idempotency_key="k1")
    again, created_again = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", idempotency_key="k1")
    other, _ = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="other", idempotency_key="k1")
    assert created and not created_again
    assert again.id == first.id and other.id != first.id
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 2


def test_transitions_record_events_and_verdicts(store):
    job = new_job(store)
    running = repository.transition(store, job.id, JobState.RUNNING)
    assert running.started_at is not None and running.attempts == 1
    done = repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=["42P07 in 2_x"], facts={"applied": ["1_a"]})
    assert done.verdict is Verdict.BLOCKED and done.reasons == ["42P07 in 2_x"]
    assert done.finished_at is not None and done.facts == {"applied": ["1_a"]}
    events = repository.job_events(store, job.id)
    assert [(e.from_state, e.to_state) for e in events] == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]
    assert events[-1].data == {"verdict": "blocked", "reasons": ["42P07 in 2_x"]}


def test_illegal_transition_changes_nothing(store):
    job = new_job(store)
    with pytest.raises(IllegalTransition):
        repository.transition(store, job.id, JobState.SUCCEEDED)
    assert repository.get_job(store, job.id).state is JobState.QUEUED
    assert len(repository.job_events(store, job.id)) == 1


def test_unknown_job_is_not_found(store):
    with pytest.raises(JobNotFound):
        repository.get_job(store, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(JobNotFound):
        repository.get_job(store, "not-a-uuid")


def test_list_filters_and_pages(store):
    jobs = [new_job(store, target="prod" if i % 2 else "staging") for i in range(5)]
    prod = repository.list_jobs(store, target="prod")
    assert {j.id for j in prod} == {jobs[1].id, jobs[3].id}
    first_page = repository.list_jobs(store, limit=2)
    second_page = repository.list_jobs(store, limit=2, before=(first_page[-1].created_at, first_page[-1].id))
    assert len(first_page) == 2 and len(second_page) == 2
    assert not {j.id for j in first_page} & {j.id for j in second_page}
    assert repository.list_jobs(store, state=JobState.RUNNING) == []


def test_a_job_with_its_bundle_is_one_statement(store):
    local = migrations_from_bundle({"1_a": "CREATE TABLE a (id int);"}, 'provider = "postgresql"')
    first, created = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", bundle=local, idempotency_key="k1")
    assert created and first.bundle_digest == repository.bundle_digest(local)
    # The same bundle again is stored once; a new job refers to it.
    second, _ = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", bundle=local)
    assert second.bundle_digest == first.bundle_digest
    assert store.execute("SELECT count(*) FROM bundle").fetchone()[0] == 1
    assert repository.load_bundle(store, first.bundle_digest).names == ["1_a"]
    # A reused key writes nothing: the first job, and still one event for it.
    again, created_again = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", bundle=local, idempotency_key="k1")
    assert (again, created_again) == (first, False)
    assert [(e.kind, e.to_state, e.data) for e in repository.job_events(store, first.id)] == [("transition", "queued", {"kind": "check", "target": "prod"})]
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 2


def test_a_failed_job_statement_stores_nothing(store):
    local = migrations_from_bundle({"1_a": "SELECT 1;"})
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", parent_id="00000000-0000-4000-8000-000000000000", bundle=local)
    assert [store.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("bundle", "job", "job_event")] == [0, 0, 0]


def test_a_job_and_its_journal_are_read_together(store):
    job = new_job(store, params={"phase": "pre"})
    repository.transition(store, job.id, JobState.RUNNING, data={"worker": "w1"})
    repository.record_step(store, job.id, "status", "started")
    repository.record_step(store, job.id, "status", "finished", {"findings": 0})
    read, events = repository.job_with_journal(store, job.id)
    assert read == repository.get_job(store, job.id)
    assert events == repository.job_events(store, job.id)
    assert [(e.kind, e.step) for e in events] == [("transition", None), ("transition", None), ("step_started", "status"), ("step_finished", "status")]
    with pytest.raises(JobNotFound):
        repository.job_with_journal(store, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(JobNotFound):
        repository.job_with_journal(store, "not-a-uuid")


def test_a_concurrent_retry_with_the_same_key_gets_the_first_job(store, scratch_db):
    answers = []
    with scratch_db.connect() as other:
        with store.transaction():
            first, created = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", idempotency_key="k1")
            retry = threading.Thread(
                target=lambda: answers.append(repository.create_job(other, kind=JobKind.CHECK, target="prod", requested_by="ci", idempotency_key="k1"))
            )
            retry.start()
            # The retry waits on the first job's uncommitted row before this transaction commits.
            pid = other.info.backend_pid
            deadline = time.monotonic() + 20
            while not scratch_db.query("SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", (pid,)):
                assert time.monotonic() < deadline, "the retry never waited on the first job"
                time.sleep(0.02)
        retry.join(20)
    assert created and answers == [(first, False)]
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 1


def test_several_jobs_are_stored_by_one_statement_in_order(store):
    local = migrations_from_bundle({"1_a": "CREATE TABLE a (id int);"}, 'provider = "postgresql"')
    earlier, _ = repository.create_job(store, kind=JobKind.CHECK, target="prod", requested_by="ci", idempotency_key="used")
    new_jobs = [
        NewJob(JobKind.CHECK, "prod", "ci", {"commit": "a"}, bundle=local, idempotency_key="k1"),
        NewJob(JobKind.DEPLOY, "staging", "ci", {"commit": "b"}, bundle=local),
        NewJob(JobKind.CHECK, "prod", "ci", {"commit": "c"}, bundle=local, idempotency_key="k1"),  # k1 again: stored once
        NewJob(JobKind.CHECK, "prod", "ci", idempotency_key="used"),  # a key used before
        NewJob(JobKind.RECOVER, "prod", "ops", parent_id=earlier.id),
    ]
    results = repository.create_jobs(store, new_jobs)
    assert [created for _, created in results] == [True, True, False, False, True]
    jobs = [job for job, _ in results]
    assert [(job.kind, job.target, job.params) for job in jobs[:2]] == [(JobKind.CHECK, "prod", {"commit": "a"}), (JobKind.DEPLOY, "staging", {"commit": "b"})]
    assert jobs[2] == jobs[0] and jobs[3] == earlier
    assert jobs[4].parent_id == earlier.id and jobs[4].requested_by == "ops"
    assert jobs[0].bundle_digest == jobs[1].bundle_digest == repository.bundle_digest(local)
    assert store.execute("SELECT count(*) FROM bundle").fetchone()[0] == 1
    assert store.execute("SELECT count(*) FROM job").fetchone()[0] == 4
    for job in (jobs[0], jobs[1], jobs[4], earlier):
        assert [(e.kind, e.to_state, e.data) for e in repository.job_events(store, job.id)] == [
            ("transition", "queued", {"kind": job.kind.value, "target": job.target})
        ]
    assert repository.create_jobs(store, []) == []


def finish(store, job, verdict):
    repository.transition(store, job.id, JobState.RUNNING)
    return repository.transition(store, job.id, JobState.SUCCEEDED, verdict=verdict)


def test_the_latest_verdict_and_deploy_of_a_target(store):
    assert repository.latest_verdict(store, "staging") is None and repository.latest_deploy(store, "staging") is None
    deployed = finish(store, new_job(store, params={"commit": "abc"}), Verdict.PROCEED)
    checked = finish(store, new_job(store, kind=JobKind.CHECK), Verdict.BLOCKED)
    finish(store, new_job(store), Verdict.BLOCKED)  # a deploy that did not go through
    finish(store, new_job(store, kind=JobKind.RECOVER), Verdict.PROCEED)  # not a gate
    new_job(store, kind=JobKind.CHECK)  # no verdict yet
    finish(store, new_job(store, target="prod"), Verdict.PROCEED)
    assert repository.latest_deploy(store, "staging").id == deployed.id
    assert repository.latest_verdict(store, "staging").verdict is Verdict.BLOCKED
    assert repository.latest_verdict(store, "staging").id != checked.id  # the blocked deploy came after the check


def test_the_newest_jobs_of_many_targets_in_one_go_are_those_of_each_alone(store):
    deployed = finish(store, new_job(store), Verdict.PROCEED)
    checked = new_job(store, kind=JobKind.CHECK)
    repository.transition(store, checked.id, JobState.RUNNING)
    repository.transition(store, checked.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, facts={"status": {"migrations": []}})
    waiting = new_job(store, kind=JobKind.ROLLBACK)
    repository.transition(store, waiting.id, JobState.RUNNING)
    repository.transition(store, waiting.id, JobState.WAITING_APPROVAL, reasons=["needs a person"])
    finish(store, new_job(store, target="prod"), Verdict.PROCEED)
    found = repository.target_jobs(store, ["staging", "prod", "nothing-yet"])
    for target in ("staging", "prod", "nothing-yet"):
        alone = (repository.latest_check(store, target), repository.latest_verdict(store, target), repository.latest_deploy(store, target))
        assert (found[target].status, found[target].verdict, found[target].deploy) == alone
    assert (found["staging"].status.id, found["staging"].verdict.id, found["staging"].deploy.id) == (checked.id, checked.id, deployed.id)
    assert [job.id for job in found["staging"].waiting] == [waiting.id]
    assert found["prod"].waiting == () and found["nothing-yet"] == repository.TargetJobs()


def test_child_jobs_oldest_first(store):
    parent = new_job(store)
    children = [new_job(store, kind=JobKind.RECOVER, parent_id=parent.id) for _ in range(2)]
    new_job(store, kind=JobKind.RECOVER)
    assert [job.id for job in repository.child_jobs(store, parent.id)] == [job.id for job in children]
    assert repository.child_jobs(store, children[0].id) == []


def test_jobs_listed_by_verdict(store):
    blocked = finish(store, new_job(store), Verdict.BLOCKED)
    finish(store, new_job(store), Verdict.PROCEED)
    new_job(store)
    assert [job.id for job in repository.list_jobs(store, verdict=Verdict.BLOCKED)] == [blocked.id]
