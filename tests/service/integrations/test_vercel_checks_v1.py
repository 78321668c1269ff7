"""Vercel's deprecated v1 checks (`checks_api = "v1"`): a check's whole life against the local fake of Vercel's API."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from service.config.settings import Settings
from service.http import create_app
from service.integrations import ApiRefused, ApiUnavailable, RetryLater, sync_report, vercel
from service.integrations.vercel_checks_v1 import ChecksV1
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.links import report_token
from service.store import repository
from tests.contract import ContractClient
from tests.service.integrations.conftest import PUBLIC_URL, VERCEL_TOKEN, make_config, store_bundle_for
from tests.service.integrations.payloads import COMMIT, TEAM, encode, vercel_event
from tests.service.test_outbound import Server
from tests.store import migrated_store

LINK_SECRET = "report-link-secret-0123456789"


@pytest.fixture
def config(target_db, vercel_api):
    return make_config(target_db, vercel_api, checks_api="v1")


def receive(store, config, event):
    return vercel.receive(store, config, vercel.parse_event(encode(event)))


def test_the_client_speaks_vercel_s_checks_api(vercel_api):
    vercel_api.add_deployment("dpl_1")
    client = ChecksV1(vercel_api.url, VERCEL_TOKEN, TEAM)
    assert client.find_check("dpl_1", "job-1") is None
    check_id = client.create_check("dpl_1", name="deploy-gate", details_url="https://gate.example.com/v1/jobs/job-1/report", external_id="job-1")
    assert client.find_check("dpl_1", "job-1") == check_id
    client.update_check("dpl_1", check_id, {"status": "completed", "conclusion": "succeeded"})
    assert vercel_api.checks[check_id]["status"] == "completed"
    assert vercel_api.violations == []
    created = next(call for call in vercel_api.calls if call.method == "POST")
    assert created.path == "/v1/deployments/dpl_1/checks" and created.query == {"teamId": [TEAM]}
    assert created.headers["Authorization"] == f"Bearer {VERCEL_TOKEN}"
    assert created.body == {
        "name": "deploy-gate",
        "blocking": True,
        "detailsUrl": "https://gate.example.com/v1/jobs/job-1/report",
        "externalId": "job-1",
        "rerequestable": True,
    }

    with pytest.raises(ApiRefused, match="404 .not_found"):
        client.create_check("dpl_unknown", name="x", details_url="https://gate.example.com/r", external_id="j")
    vercel_api.fail(503)
    with pytest.raises(ApiUnavailable, match="503"):
        client.find_check("dpl_1", "job-1")
    wrong = ChecksV1(vercel_api.url, "stolen", TEAM)
    with pytest.raises(ApiUnavailable, match="403") as raised:
        wrong.find_check("dpl_1", "job-1")
    assert "stolen" not in str(raised.value) and VERCEL_TOKEN not in str(raised.value)


def test_a_network_error_is_worth_another_try():
    client = ChecksV1("http://127.0.0.1:1", VERCEL_TOKEN, None)
    with pytest.raises(ApiUnavailable, match="network error"):
        client.find_check("dpl_1", "job")


def test_a_redirect_is_refused_and_the_token_never_follows_it():
    with (
        Server() as elsewhere,
        Server(status=307, headers={"Location": f"{elsewhere.url}/v1/deployments/dpl_1/checks"}) as api,
        pytest.raises(ApiRefused, match="list the deployment's checks: 307") as refused,
    ):
        ChecksV1(api.url, VERCEL_TOKEN, None).find_check("dpl_1", "job")
    assert len(api.requests) == 1 and elsewhere.requests == []
    assert VERCEL_TOKEN not in str(refused.value) and api.url not in str(refused.value)


def test_a_check_is_created_kept_running_and_completed_with_the_verdict(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    receipt = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (receipt.status, receipt.run, receipt.report) == ("accepted", True, "vercel")
    job = repository.get_job(store, receipt.job_id)
    assert (job.kind, job.target, job.requested_by) == (JobKind.CHECK, "production", "vercel")
    assert job.params == {"phase": "pre", "apply": False, "commit": COMMIT, "deployment_id": "dpl_1"}

    assert sync_report(store, config, job.id, "vercel") == "running"
    [check] = vercel_api.checks.values()
    assert (check["status"], check["externalId"], check["blocking"], check["rerequestable"]) == ("running", job.id, True, True)
    assert check["detailsUrl"] == f"{PUBLIC_URL}/v1/jobs/{job.id}/report"
    # Fresh: nothing to say yet.
    assert sync_report(store, config, job.id, "vercel") == "fresh"
    # Kept fresh while the job runs: another running update once the last one ages.
    assert sync_report(store, config, job.id, "vercel", keep_fresh_seconds=0) == "running"
    assert [(c.method, c.body.get("status") if isinstance(c.body, dict) else None) for c in vercel_api.calls] == [
        ("GET", None), ("POST", None), ("PATCH", "running"), ("PATCH", "running"),
    ]  # fmt: skip

    job = run_job(store, config, job.id)
    assert (job.state, job.verdict) == (JobState.SUCCEEDED, Verdict.PROCEED)
    assert sync_report(store, config, job.id, "vercel") == "completed: succeeded"
    assert (check["status"], check["conclusion"], check["name"]) == ("completed", "succeeded", "deploy-gate: proceed")
    assert sync_report(store, config, job.id, "vercel") == "nothing to do"
    report = repository.get_integration_report(store, job.id, "vercel")
    assert (report.status, report.reported_state, report.remote_id) == ("done", "completed", check["id"])
    assert vercel_api.violations == []


def test_with_a_report_link_secret_the_checks_details_url_opens_the_report_without_a_token(store, scratch_db, config, vercel_api):
    config = replace(config, integrations=replace(config.integrations, report_link_secret=LINK_SECRET), report_link_secret=LINK_SECRET)
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    signed = f"{PUBLIC_URL}/v1/jobs/{job_id}/report?token={report_token(LINK_SECRET, job_id)}"
    assert sync_report(store, config, job_id, "vercel") == "running"
    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "vercel") == "completed: succeeded"
    # The check was created, kept running and completed with the signed link, and nothing else secret.
    sent = [c.body for c in vercel_api.calls if isinstance(c.body, dict)]
    assert [body["detailsUrl"] for body in sent] == [signed] * 3
    assert LINK_SECRET not in json.dumps(sent) and VERCEL_TOKEN not in json.dumps(sent)
    assert vercel_api.violations == []

    # What a person clicking "Details" in Vercel's dashboard gets: the check job's report, no bearer token.
    app = create_app(
        Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None), config, enqueue=lambda *job_ids: None
    )
    app.test_client_class = ContractClient
    try:
        response = app.test_client().get(signed.removeprefix(PUBLIC_URL))
        assert response.status_code == 200
        report = response.get_json()
        assert (report["job"]["id"], report["job"]["kind"], report["job"]["deployment_id"]) == (job_id, "check", "dpl_1")
        assert report["job"]["verdict"] == "proceed" and report["checklist"] == []
        assert app.test_client().get(f"/v1/jobs/{job_id}?token={report_token(LINK_SECRET, job_id)}").status_code == 401
    finally:
        app.extensions["deploy_gate"].close()


def test_without_a_report_link_secret_the_details_url_is_the_plain_report(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    assert sync_report(store, config, job_id, "vercel") == "running"
    [check] = vercel_api.checks.values()
    assert check["detailsUrl"] == f"{PUBLIC_URL}/v1/jobs/{job_id}/report" and "token" not in check["detailsUrl"]


@pytest.mark.parametrize(
    "state, verdict, reasons, conclusion, name",
    [
        (JobState.SUCCEEDED, Verdict.BLOCKED, ["migration 2_x failed (22012: division by zero)", "lint drop-table"], "failed",
         "deploy-gate: blocked: migration 2_x failed (22012: division by zero) (and 1 more)"),
        (JobState.FAILED, None, ["target production is not configured"], "failed", "deploy-gate: could not check: target production is not configured"),
        (JobState.CANCELED, None, [], "canceled", "deploy-gate: canceled"),
        (JobState.SUCCEEDED, Verdict.BLOCKED, ["x" * 300], "failed", "deploy-gate: blocked: " + "x" * 77 + "…"),
    ],
)  # fmt: skip
def test_the_conclusion_and_short_output_follow_the_job(store, config, vercel_api, state, verdict, reasons, conclusion, name):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    sync_report(store, config, job_id, "vercel")
    repository.transition(store, job_id, JobState.RUNNING)
    repository.transition(store, job_id, state, verdict=verdict, reasons=reasons)
    assert sync_report(store, config, job_id, "vercel") == f"completed: {conclusion}"
    [check] = vercel_api.checks.values()
    assert (check["conclusion"], check["name"]) == (conclusion, name)
    assert len(check["name"]) <= 100 and vercel_api.violations == []


def test_a_vercel_api_that_fails_twice_is_retried_and_the_verdict_stays(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    job = run_job(store, config, job_id)
    vercel_api.fail(500, 502)
    for _ in range(2):
        with pytest.raises(RetryLater) as later:
            sync_report(store, config, job_id, "vercel")
        assert later.value.retry_in > 0
    failed = repository.get_integration_report(store, job_id, "vercel")
    assert (failed.status, failed.attempts) == ("open", 2) and "502" in failed.last_error
    # Waiting out its retry, the report is not due for the beat task.
    assert repository.due_integration_reports(store, fresh_seconds=60) == []
    assert sync_report(store, config, job_id, "vercel") == "completed: succeeded"
    assert repository.get_job(store, job_id) == job, "reaching Vercel never changes the job"
    report = repository.get_integration_report(store, job_id, "vercel")
    assert (report.status, report.attempts, report.last_error) == ("done", 0, None)
    assert len(vercel_api.checks) == 1 and vercel_api.violations == []


def test_a_lost_answer_never_leaves_two_checks(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    vercel_api.lose_answer(method="POST")  # the create takes effect, but its answer is lost
    with pytest.raises(RetryLater):
        sync_report(store, config, job_id, "vercel")
    assert len(vercel_api.checks) == 1
    assert sync_report(store, config, job_id, "vercel") == "running"
    assert len(vercel_api.checks) == 1
    assert [c.method for c in vercel_api.calls] == ["GET", "POST", "GET", "PATCH"]
    [check] = vercel_api.checks.values()
    assert repository.get_integration_report(store, job_id, "vercel").remote_id == check["id"]


def test_a_refusal_ends_the_report_and_nothing_else(store, config, vercel_api):
    store_bundle_for(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_gone")).job_id
    assert sync_report(store, config, job_id, "vercel") == "abandoned"
    report = repository.get_integration_report(store, job_id, "vercel")
    assert report.status == "abandoned" and "404" in report.last_error and "deployment was not found" in report.last_error
    assert repository.get_job(store, job_id).state is JobState.QUEUED


def test_a_report_failing_for_a_day_is_given_up(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    store.execute("UPDATE integration_report SET created_at = now() - interval '25 hours'")
    vercel_api.fail(503)
    assert sync_report(store, config, job_id, "vercel") == "abandoned"
    assert "gave up after a day" in repository.get_integration_report(store, job_id, "vercel").last_error


def test_due_reports_are_the_ones_with_something_to_tell(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    due = lambda: repository.due_integration_reports(store, fresh_seconds=60)  # noqa: E731
    assert due() == [(job_id, "vercel")], "a check to create"
    sync_report(store, config, job_id, "vercel")
    assert due() == [], "running and fresh"
    store.execute("UPDATE integration_report SET reported_at = now() - interval '61 seconds'")
    assert due() == [(job_id, "vercel")], "about to go stale"
    sync_report(store, config, job_id, "vercel", keep_fresh_seconds=60)
    assert due() == []
    run_job(store, config, job_id)
    assert due() == [(job_id, "vercel")], "the job ended"
    sync_report(store, config, job_id, "vercel")
    assert due() == []


def test_a_re_requested_check_runs_a_new_job_reported_on_the_same_check(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    first = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    sync_report(store, config, first, "vercel")
    [check_id] = vercel_api.checks
    still_running = receive(store, config, vercel_event("deployment.check-rerequested", "dpl_1", check_id=check_id))
    assert (still_running.status, still_running.job_id, still_running.run) == ("recorded", first, False)

    repository.transition(store, first, JobState.RUNNING)
    repository.transition(store, first, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=["lint drop-table"])
    sync_report(store, config, first, "vercel")
    assert vercel_api.checks[check_id]["conclusion"] == "failed"

    again = receive(store, config, vercel_event("deployment.check-rerequested", "dpl_1", check_id=check_id))
    assert (again.status, again.run, again.report) == ("accepted", True, "vercel")
    rerun = repository.get_job(store, again.job_id)
    assert (rerun.kind, rerun.target, rerun.params["deployment_id"], rerun.params["phase"]) == (JobKind.CHECK, "production", "dpl_1", "pre")
    assert sync_report(store, config, rerun.id, "vercel") == "running"
    assert len(vercel_api.checks) == 1
    check = vercel_api.checks[check_id]
    assert (check["status"], check["externalId"], check["name"]) == ("running", rerun.id, "deploy-gate")
    assert check["detailsUrl"].endswith(f"/v1/jobs/{rerun.id}/report")
    run_job(store, config, rerun.id)
    assert sync_report(store, config, rerun.id, "vercel") == "completed: succeeded"
    assert vercel_api.violations == []

    unknown = receive(store, config, vercel_event("deployment.check-rerequested", "dpl_1", check_id="chk_other"))
    assert unknown.status == "ignored"


def test_a_report_is_never_older_than_its_timestamps_say(store, config, vercel_api):
    # reported_at is the store's clock, compared with this process's: a refresh happens on time.
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    sync_report(store, config, job_id, "vercel")
    report = repository.get_integration_report(store, job_id, "vercel")
    store.execute("UPDATE integration_report SET reported_at = %s", (report.reported_at - timedelta(seconds=121),))
    assert sync_report(store, config, job_id, "vercel") == "running"
