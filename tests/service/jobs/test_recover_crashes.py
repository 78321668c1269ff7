"""A recover job whose worker dies at each step, then runs again: no step's work is done twice,
nothing is lost, and the job ends with the verdict it has without the crash.

The crash is simulated at the worst moment of each step: its work done, its end not yet journaled
(and, for a migration, with its history row written but its script never run).
"""

from __future__ import annotations

import pytest

from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma import deploy as deploy_module
from service.store import repository
from tests.service.jobs.test_recover import BASE, HeldLock, applied_base, deploy_then_recover, make_config, rows_of

SCRIPTS = {**BASE, "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n'}
NAME = "20240102_add_email"


class WorkerDied(BaseException):
    """Not an Exception: nothing in the job may catch it, as nothing catches SIGKILL."""


def failed_deploy(store, target_db, config):
    """A deploy whose migration failed on a lock timeout, and the recover job it started."""
    applied_base(target_db, store, config)
    lock = HeldLock(target_db, "Patient")

    def stop_before_recovery():
        lock.release()
        raise WorkerDied

    try:
        deploy_then_recover(store, config, SCRIPTS, before_recovery=stop_before_recovery)
    except WorkerDied:
        pass
    finally:
        lock.release()
    deploy_job = repository.list_jobs(store, kind=JobKind.DEPLOY)[0]
    return deploy_job.id, repository.finished_steps(store, deploy_job.id)["recover"]["job"]


def assert_finished_once(store, target_db, deploy_id, child_id):
    recovered = repository.get_job(store, child_id)
    assert recovered.state is JobState.SUCCEEDED and recovered.verdict is Verdict.PROCEED, recovered.reasons
    assert repository.get_job(store, deploy_id).verdict is Verdict.PROCEED
    rows = rows_of(target_db, NAME)
    assert sum(1 for row in rows if row["finished_at"] and not row["rolled_back_at"]) == 1
    assert all(row["rolled_back_at"] for row in rows if not row["finished_at"])
    assert target_db.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'") == [(1,)]


@pytest.mark.parametrize(
    "step, phase",
    [
        ("facts:1", "finished"),
        ("decide:1", "finished"),
        ("act:1:mark_rolled_back", "finished"),
        (f"apply:{NAME}", "started"),
        (f"apply:{NAME}", "finished"),
        ("act:1:deploy", "finished"),
    ],
)
def test_a_crash_at_each_step(store, target_db, monkeypatch, step, phase):
    config = make_config(target_db)
    deploy_id, child_id = failed_deploy(store, target_db, config)
    real_record_step = repository.record_step
    calls = []

    def dies_there(conn, job_id, name, at, data=None):
        if (name, at) == (step, phase) and not calls:
            calls.append(name)
            raise WorkerDied
        return real_record_step(conn, job_id, name, at, data)

    monkeypatch.setattr(repository, "record_step", dies_there)
    with pytest.raises(WorkerDied):
        run_job(store, config, child_id)
    assert calls == [step] and repository.get_job(store, child_id).state is JobState.RUNNING

    run_job(store, config, child_id)
    assert_finished_once(store, target_db, deploy_id, child_id)
    decided = [e for e in repository.job_events(store, child_id) if e.kind == "step_finished" and e.step.startswith("decide:")]
    assert len(decided) == 1, "the decision is journaled once and reused"


def test_a_crash_between_the_history_row_and_the_script(store, target_db, monkeypatch):
    config = make_config(target_db)
    deploy_id, child_id = failed_deploy(store, target_db, config)
    real_run_script = deploy_module._run_script

    def dies_before_the_script(conn, script, timeouts, prisma_version):
        monkeypatch.setattr(deploy_module, "_run_script", real_run_script)
        raise WorkerDied

    monkeypatch.setattr(deploy_module, "_run_script", dies_before_the_script)
    with pytest.raises(WorkerDied):
        run_job(store, config, child_id)
    # The retry's row is there, unfinished, with no logs: what a dead worker leaves.
    assert [(row["finished_at"], row["logs"]) for row in rows_of(target_db, NAME)][-1] == (None, None)

    run_job(store, config, child_id)
    assert_finished_once(store, target_db, deploy_id, child_id)
    facts = repository.get_job(store, child_id).facts["facts:2"]["facts"]
    assert (facts["error_class"], facts["attempts"], facts["effects"]) == ("transient", 1, "none")
