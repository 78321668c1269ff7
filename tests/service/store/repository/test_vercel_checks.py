from datetime import UTC, datetime, timedelta

from service.store import repository
from tests.service.store.repository.helpers import new_job


def test_a_project_s_check_is_remembered_with_its_definition_and_forgotten(store):
    assert repository.stored_check(store, "prj_1") is None
    repository.remember_check(store, "prj_1", "chk_1", {"blocks": "deployment-alias"})
    repository.remember_check(store, "prj_1", "chk_2", {"blocks": "deployment-promotion"})
    stored = repository.stored_check(store, "prj_1")
    assert (stored.check_id, stored.definition) == ("chk_2", {"blocks": "deployment-promotion"})
    repository.forget_check(store, "prj_1")
    assert repository.stored_check(store, "prj_1") is None


def test_runs_announced_early_are_claimed_by_the_job_or_skipped(store):
    job = new_job(store)
    assert repository.add_check_run(store, run_id="run_1", deployment_id="dpl_1", check_id="chk_1", origin="announced")
    assert not repository.add_check_run(store, run_id="run_1", deployment_id="dpl_1", check_id="chk_1", origin="announced")
    repository.add_check_run(store, run_id="run_2", deployment_id="dpl_2", check_id="chk_1", origin="announced")
    assert sorted(repository.due_jobless_runs(store)) == ["run_1", "run_2"]
    assert repository.claim_check_runs(store, "dpl_1", job.id) == 1
    assert [run.run_id for run in repository.runs_of_job(store, job.id)] == ["run_1"]
    assert repository.skip_check_runs(store, "dpl_2", "no migrations stored") == 1
    assert repository.claim_check_runs(store, "dpl_2", job.id) == 0, "a run to skip is not claimed"
    assert repository.due_jobless_runs(store) == ["run_2"]
    repository.defer_jobless_run(store, "run_2", until=datetime.now(UTC) + timedelta(minutes=1))
    assert repository.due_jobless_runs(store) == []


def test_a_run_is_reported_closed_and_reassigned(store):
    first, second = new_job(store), new_job(store)
    repository.add_check_run(store, run_id="run_1", deployment_id="dpl_1", check_id="chk_1", origin="created", job_id=first.id)
    repository.run_reported(store, "run_1", state="running")
    assert (repository.get_check_run(store, "run_1").status, repository.get_check_run(store, "run_1").reported_state) == ("open", "running")
    repository.run_reported(store, "run_1", state="completed", conclusion="failed")
    done = repository.get_check_run(store, "run_1")
    assert (done.status, done.conclusion) == ("done", "failed")
    assert not repository.close_check_run(store, "run_1", "canceled"), "only an open run is closed"
    repository.reassign_check_run(store, "run_1", job_id=second.id)
    again = repository.get_check_run(store, "run_1")
    assert (again.job_id, again.status, again.reported_state, again.conclusion) == (second.id, "open", None, None)
    assert repository.close_deployment_runs(store, "dpl_1", "the deployment ended (deployment.canceled)") == 1
    closed = repository.get_check_run(store, "run_1")
    assert (closed.status, closed.last_error) == ("canceled", "the deployment ended (deployment.canceled)")
    assert [run.run_id for run in repository.runs_of_deployment(store, "dpl_1")] == ["run_1"]
