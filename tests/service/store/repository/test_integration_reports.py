from service.jobs.states import JobState
from service.store import repository
from tests.service.store.repository.helpers import new_job


def test_a_report_is_owed_once_per_job_and_source(store):
    job = new_job(store)
    assert repository.open_integration_report(store, job_id=job.id, source="github", subject="deploy-7", details={"repo": "o/r"})
    assert not repository.open_integration_report(store, job_id=job.id, source="github", subject="deploy-7")
    report = repository.get_integration_report(store, job.id, "github")
    assert (report.job_id, report.subject, report.details, report.status, report.attempts) == (job.id, "deploy-7", {"repo": "o/r"}, "open", 0)
    assert repository.get_integration_report(store, job.id, "vercel") is None
    assert repository.open_reports_about(store, "github", "deploy-7") == [report]


def test_a_report_is_due_when_its_job_ends_and_closed_once_told(store):
    job = new_job(store)
    repository.open_integration_report(store, job_id=job.id, source="github", subject="deploy-7")
    assert repository.due_integration_reports(store, fresh_seconds=60) == []
    repository.transition(store, job.id, JobState.RUNNING)
    repository.transition(store, job.id, JobState.FAILED)
    assert repository.due_integration_reports(store, fresh_seconds=60) == [(job.id, "github")]
    repository.report_failed(store, job.id, "github", error="502 from the platform", retry_in_seconds=300)
    failed = repository.get_integration_report(store, job.id, "github")
    assert (failed.attempts, failed.last_error) == (1, "502 from the platform")
    assert repository.due_integration_reports(store, fresh_seconds=60) == []  # waiting out its retry
    with store.transaction():
        assert repository.lock_integration_report(store, job.id, "github") is not None
        repository.report_progress(store, job.id, "github", reported_state="failure", remote_id="status-1", done=True)
    done = repository.get_integration_report(store, job.id, "github")
    assert (done.status, done.reported_state, done.remote_id, done.attempts, done.last_error) == ("done", "failure", "status-1", 0, None)
    assert repository.lock_integration_report(store, job.id, "github") is None
    assert repository.latest_report_for_remote(store, "github", "status-1") == done


def test_an_abandoned_report_keeps_its_reason(store):
    job = new_job(store)
    repository.open_integration_report(store, job_id=job.id, source="vercel", subject="dpl_1")
    repository.abandon_integration_report(store, job.id, "vercel", reason="the deployment was canceled")
    abandoned = repository.get_integration_report(store, job.id, "vercel")
    assert (abandoned.status, abandoned.last_error) == ("abandoned", "the deployment was canceled")
    assert repository.open_reports_about(store, "vercel", "dpl_1") == []
