"""Vercel Checks v2 against the local fake of Vercel's API: the project's check, and a check run's whole life per deployment."""

from dataclasses import replace

import pytest

from service.integrations import RetryLater, sync_report, vercel, vercel_checks_v2
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.store import repository
from tests.service.integrations.conftest import PUBLIC_URL, WEBHOOK_ID, make_config, store_bundle_for
from tests.service.integrations.payloads import PROJECT, TEAM, encode, vercel_event

DEFINITION = {
    "name": "deploy-gate",
    "requires": "none",
    "blocks": "deployment-alias",
    "targets": ["preview", "production"],
    "timeout": 900,
    "isRerequestable": True,
    "source": {"kind": "webhook", "webhookId": WEBHOOK_ID},
}


def receive(store, config, event):
    return vercel.receive(store, config, vercel.parse_event(encode(event)))


def announce(store, config, run, kind="deployment.checkrun.start"):
    return receive(store, config, vercel_event(kind, run["deploymentId"], check_run=run))


def define_check(store, config):
    """The project's check, as the first report on one of its deployments makes it."""
    integration = config.integrations.vercel
    return vercel_checks_v2.ensure_check(store, vercel_checks_v2.client_for(integration), integration, PROJECT)


def past_the_wait(store, job_id):
    store.execute("UPDATE integration_report SET created_at = created_at - interval '1 hour', retry_at = NULL WHERE job_id = %s", (job_id,))


def calls(fake):
    return [(c.method, c.path, c.status) for c in fake.calls]


def test_the_check_is_defined_once_found_again_and_brought_up_to_date(store, config, vercel_api):
    vercel_api.add_deployment("dpl_1")
    check_id = define_check(store, config)
    assert calls(vercel_api) == [("GET", f"/v2/projects/{PROJECT}/checks", 200), ("POST", f"/v2/projects/{PROJECT}/checks", 200)]
    created = vercel_api.calls[1]
    assert created.body == DEFINITION and created.query == {"teamId": [TEAM]}
    assert vercel_api.project_checks[check_id]["sourceKind"] == "webhook"

    assert define_check(store, config) == check_id
    assert len(vercel_api.calls) == 2, "remembered in the store: no call"

    store.execute("DELETE FROM vercel_check")
    assert define_check(store, config) == check_id
    assert calls(vercel_api)[2:] == [("GET", f"/v2/projects/{PROJECT}/checks", 200)], "found again by name, not made twice"

    changed = replace(config, integrations=replace(config.integrations, vercel=replace(config.integrations.vercel, check_timeout_seconds=600)))
    assert define_check(store, changed) == check_id
    update = vercel_api.calls[-1]
    assert (update.method, update.path, update.body) == ("PATCH", f"/v2/projects/{PROJECT}/checks/{check_id}", {"timeout": 600})
    assert len(vercel_api.project_checks) == 1 and vercel_api.project_checks[check_id]["timeout"] == 600
    assert repository.stored_check(store, PROJECT).definition == {**DEFINITION, "timeout": 600}
    assert vercel_api.violations == []

    integration_token = replace(config.integrations.vercel, webhook_id=None)
    assert vercel_checks_v2.check_definition(integration_token, PROJECT)["source"] == {"kind": "integration"}


def test_a_check_run_vercel_announces_carries_the_job_s_verdict(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_0")
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    before = len(vercel_api.calls)

    receipt = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (receipt.status, receipt.run, receipt.report) == ("accepted", True, "vercel")
    assert "the deployment's run of the Vercel check deploy-gate" in receipt.detail
    job = repository.get_job(store, receipt.job_id)
    assert (job.kind, job.target, job.params["deployment_id"]) == (JobKind.CHECK, "production", "dpl_1")
    [run] = vercel_api.start_runs("dpl_1")
    announced = announce(store, config, run)
    assert (announced.status, announced.job_id, announced.report) == ("recorded", job.id, "vercel")
    assert announce(store, config, run).status == "recorded", "announced again (another delivery): nothing new"

    assert sync_report(store, config, job.id, "vercel") == "running"
    told = vercel_api.runs[run["id"]]
    assert (told["status"], told["externalId"], told["externalUrl"]) == ("running", job.id, f"{PUBLIC_URL}/v1/jobs/{job.id}/report")
    assert sync_report(store, config, job.id, "vercel") == "fresh"
    due = lambda: repository.due_integration_reports(store, fresh_seconds=0)  # noqa: E731
    assert due() == [], "a run does not go stale: nothing to refresh"
    [second] = vercel_api.start_runs("dpl_1")  # a second run of the check on the deployment: the job tells both
    announce(store, config, second)
    assert due() == [(job.id, "vercel")], "a run not told yet"
    assert sync_report(store, config, job.id, "vercel") == "running" and vercel_api.runs[second["id"]]["status"] == "running"

    job = run_job(store, config, job.id)
    assert due() == [(job.id, "vercel")], "the job ended"
    assert (job.state, job.verdict) == (JobState.SUCCEEDED, Verdict.PROCEED)
    assert sync_report(store, config, job.id, "vercel") == "completed: succeeded"
    assert (told["status"], told["conclusion"], told["conclusionText"]) == ("completed", "succeeded", "proceed")
    assert vercel_api.runs[second["id"]]["conclusion"] == "succeeded", "every run the job holds is told"
    assert sync_report(store, config, job.id, "vercel") == "nothing to do"
    report = repository.get_integration_report(store, job.id, "vercel")
    assert (report.status, report.reported_state, report.remote_id) == ("done", "completed", run["id"])
    assert [(c.method, c.body.get("status")) for c in vercel_api.calls[before:]] == [
        ("PATCH", "running"),
        ("PATCH", "running"),
        ("PATCH", "completed"),
        ("PATCH", "completed"),
    ]
    assert vercel_api.violations == []


@pytest.mark.parametrize(
    "state, verdict, reasons, conclusion, text",
    [
        (JobState.SUCCEEDED, Verdict.BLOCKED, ["migration 2_x failed (22012: division by zero)", "lint drop-table"], "failed",
         "blocked: migration 2_x failed (22012: division by zero) (and 1 more)"),
        (JobState.FAILED, None, ["target production is not configured"], "failed", "could not check: target production is not configured"),
        (JobState.CANCELED, None, [], "canceled", "canceled"),
        (JobState.SUCCEEDED, Verdict.BLOCKED, ["x" * 400], "failed", "blocked: " + "x" * 290 + "…"),
    ],
)  # fmt: skip
def test_the_conclusion_and_its_text_follow_the_job(store, config, vercel_api, state, verdict, reasons, conclusion, text):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    repository.transition(store, job_id, JobState.RUNNING)
    repository.transition(store, job_id, state, verdict=verdict, reasons=reasons)
    assert sync_report(store, config, job_id, "vercel") == f"completed: {conclusion}"
    told = vercel_api.runs[run["id"]]
    assert (told["status"], told["conclusion"], told["conclusionText"]) == ("completed", conclusion, text)
    assert len(text) <= vercel_checks_v2.MAX_CONCLUSION_TEXT and vercel_api.violations == []


def test_without_an_announcement_deploy_gate_makes_the_run_after_the_wait_and_never_two(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    assert sync_report(store, config, job_id, "vercel") == "waiting for Vercel to announce the check run"
    assert [c.method for c in vercel_api.calls] == ["GET", "POST"], "the check is made on first use, no run yet"
    assert repository.due_integration_reports(store, fresh_seconds=60) == [], "not due before the wait is over"

    past_the_wait(store, job_id)
    assert repository.due_integration_reports(store, fresh_seconds=60) == [(job_id, "vercel")]
    vercel_api.lose_answer(method="POST")  # the run is made, but the answer is lost
    with pytest.raises(RetryLater):
        sync_report(store, config, job_id, "vercel")
    assert len(vercel_api.runs) == 1
    store.execute("UPDATE integration_report SET retry_at = NULL")
    assert sync_report(store, config, job_id, "vercel") == "running"
    [run] = vercel_api.runs.values()
    assert run["status"] == "running" and run["externalId"] == job_id
    assert [(c.method, c.path.rsplit("/", 1)[-1]) for c in vercel_api.calls[2:]] == [
        ("GET", "check-runs"), ("POST", "check-runs"), ("GET", "check-runs"), ("PATCH", run["id"]),
    ]  # fmt: skip
    assert repository.get_check_run(store, run["id"]).origin == "found"
    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "vercel") == "completed: succeeded"
    assert len(vercel_api.runs) == 1 and vercel_api.violations == []


def test_a_run_vercel_made_but_did_not_announce_is_found(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")  # its deployment.checkrun.start never arrives
    past_the_wait(store, job_id)
    assert sync_report(store, config, job_id, "vercel") == "running"
    assert not [c for c in vercel_api.calls if c.method == "POST" and "check-runs" in c.path]
    assert (repository.get_check_run(store, run["id"]).origin, vercel_api.runs[run["id"]]["status"]) == ("found", "running")


def test_a_run_announced_before_deployment_created_waits_for_the_job(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    [run] = vercel_api.start_runs("dpl_1")
    early = announce(store, config, run)
    assert (early.status, early.job_id) == ("recorded", None) and "waits for the deployment's deployment.created" in early.detail
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    assert repository.get_check_run(store, run["id"]).job_id == job_id
    assert sync_report(store, config, job_id, "vercel") == "running", "no wait: the job has its run"
    assert vercel_api.runs[run["id"]]["externalId"] == job_id
    assert repository.due_jobless_runs(store) == []


def test_a_rerequested_run_is_reported_again_by_a_new_job(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    first = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    sync_report(store, config, first, "vercel")
    repository.transition(store, first, JobState.RUNNING)
    repository.transition(store, first, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=["lint drop-table"])
    assert sync_report(store, config, first, "vercel") == "completed: failed"

    again = announce(store, config, vercel_api.rerequest(run["id"]))
    assert (again.status, again.run, again.report) == ("accepted", True, "vercel")
    rerun = repository.get_job(store, again.job_id)
    assert rerun.id != first and (rerun.kind, rerun.target, rerun.params["deployment_id"], rerun.params["phase"]) == (
        JobKind.CHECK,
        "production",
        "dpl_1",
        "pre",
    )
    assert repository.get_check_run(store, run["id"]).job_id == rerun.id
    assert repository.get_integration_report(store, rerun.id, "vercel").details["rerun_of"] == first
    assert sync_report(store, config, rerun.id, "vercel") == "running"
    assert (vercel_api.runs[run["id"]]["status"], vercel_api.runs[run["id"]]["externalId"]) == ("running", rerun.id)
    run_job(store, config, rerun.id)
    assert sync_report(store, config, rerun.id, "vercel") == "completed: succeeded"
    assert vercel_api.runs[run["id"]]["conclusion"] == "succeeded" and len(vercel_api.runs) == 1
    assert vercel_api.violations == []


def test_a_canceled_run_is_no_longer_reported(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    assert sync_report(store, config, job_id, "vercel") == "running"
    canceled = announce(store, config, vercel_api.cancel(run["id"]), kind="deployment.checkrun.cancel")
    assert (canceled.status, canceled.job_id) == ("recorded", job_id)
    report = repository.get_integration_report(store, job_id, "vercel")
    assert report.status == "abandoned" and "deployment.checkrun.cancel" in report.last_error
    assert repository.get_check_run(store, run["id"]).status == "canceled"
    count = len(vercel_api.calls)
    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "vercel") == "nothing to do"
    assert len(vercel_api.calls) == count, "nothing more is told about a canceled run"
    assert repository.get_job(store, job_id).state is JobState.SUCCEEDED, "the job itself goes on"
    assert announce(store, config, {"id": "chkrun_unknown", "checkId": "chk_x", "deploymentId": "dpl_1"}, kind="deployment.checkrun.cancel").status == "ignored"


def test_a_vercel_api_failing_twice_is_retried_and_the_verdict_stays(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    job = run_job(store, config, job_id)
    vercel_api.fail(500, 502)
    for _ in range(2):
        with pytest.raises(RetryLater) as later:
            sync_report(store, config, job_id, "vercel")
        assert later.value.retry_in > 0
    failed = repository.get_integration_report(store, job_id, "vercel")
    assert (failed.status, failed.attempts) == ("open", 2) and "502" in failed.last_error
    assert repository.due_integration_reports(store, fresh_seconds=60) == [], "waiting out its retry"
    store.execute("UPDATE integration_report SET retry_at = NULL")
    assert sync_report(store, config, job_id, "vercel") == "completed: succeeded"
    assert repository.get_job(store, job_id) == job, "reaching Vercel never changes the job"
    report = repository.get_integration_report(store, job_id, "vercel")
    assert (report.status, report.attempts, report.last_error) == ("done", 0, None)
    assert vercel_api.runs[run["id"]]["conclusion"] == "succeeded" and vercel_api.violations == []


def test_a_deployment_no_job_can_check_has_its_runs_skipped(store, config, vercel_api):
    vercel_api.add_deployment("dpl_1")
    vercel_api.add_deployment("dpl_2")
    define_check(store, config)
    # Announced before deployment.created, which then finds no migrations stored for the target.
    [early] = vercel_api.start_runs("dpl_1")
    announce(store, config, early)
    assert receive(store, config, vercel_event("deployment.created", "dpl_1")).status == "not_checked"
    # Announced after it.
    assert receive(store, config, vercel_event("deployment.created", "dpl_2")).status == "not_checked"
    [late] = vercel_api.start_runs("dpl_2")
    announced = announce(store, config, late)
    assert (announced.status, announced.job_id) == ("not_checked", None)

    assert sorted(repository.due_jobless_runs(store)) == sorted([early["id"], late["id"]])
    for run_id in (early["id"], late["id"]):
        assert vercel_checks_v2.sync_jobless_run(store, config, run_id) == "skipped"
        assert vercel_checks_v2.sync_jobless_run(store, config, run_id) == "nothing to do"
    assert vercel_api.runs[early["id"]]["conclusion"] == "skipped" and "post a deploy with the migrations" in vercel_api.runs[early["id"]]["conclusionText"]
    assert vercel_api.runs[late["id"]]["conclusion"] == "skipped" and "made no check job" in vercel_api.runs[late["id"]]["conclusionText"]
    assert repository.due_jobless_runs(store) == [] and store.execute("SELECT count(*) FROM job").fetchone() == (0,)
    assert vercel_api.violations == []


def test_a_run_whose_deployment_created_never_comes_is_skipped_after_the_wait(store, config, vercel_api):
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    assert vercel_checks_v2.sync_jobless_run(store, config, run["id"]) == "waiting for deployment.created"
    assert repository.due_jobless_runs(store) == []
    store.execute("UPDATE vercel_check_run SET created_at = created_at - interval '1 hour', retry_at = NULL")
    assert repository.due_jobless_runs(store) == [run["id"]]
    vercel_api.fail(503)
    with pytest.raises(RetryLater):
        vercel_checks_v2.sync_jobless_run(store, config, run["id"])
    assert repository.get_check_run(store, run["id"]).attempts == 1 and repository.due_jobless_runs(store) == []
    store.execute("UPDATE vercel_check_run SET retry_at = NULL")
    assert vercel_checks_v2.sync_jobless_run(store, config, run["id"]) == "skipped"
    told = vercel_api.runs[run["id"]]
    assert (told["conclusion"], told["conclusionText"]) == ("skipped", vercel_checks_v2.NO_DEPLOYMENT_CREATED)


def test_a_check_vercel_refuses_ends_the_report_with_vercel_s_reason(store, target_db, vercel_api):
    config = make_config(target_db, vercel_api, blocks="deployment-promotion")
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    assert sync_report(store, config, job_id, "vercel") == "abandoned"
    report = repository.get_integration_report(store, job_id, "vercel")
    assert "create the project's check: 400" in report.last_error and "deployment-promotion" in report.last_error
    assert repository.get_job(store, job_id).state is JobState.QUEUED


def test_runs_of_another_check_and_of_ended_deployments_are_not_reported(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    check_id = define_check(store, config)
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    foreign = announce(store, config, {"id": "chkrun_other", "checkId": "chk_other", "deploymentId": "dpl_1"})
    assert foreign.status == "ignored" and f"not of deploy-gate's check {check_id}" in foreign.detail
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    assert receive(store, config, vercel_event("deployment.error", "dpl_1")).status == "accepted"
    assert repository.get_check_run(store, run["id"]).status == "canceled"
    assert repository.get_integration_report(store, job_id, "vercel").status == "abandoned"
    late = announce(store, config, {"id": "chkrun_late", "checkId": check_id, "deploymentId": "dpl_1"})
    assert late.status == "ignored" and "the deployment has ended" in late.detail
    assert not [c for c in vercel_api.calls if "check-runs" in c.path]


def test_a_run_of_another_check_taken_before_deploy_gate_knew_its_check_is_dropped(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    # No check is remembered yet, so the announcement cannot be told apart from deploy-gate's own.
    assert announce(store, config, {"id": "chkrun_other", "checkId": "chk_other", "deploymentId": "dpl_1"}).job_id == job_id
    past_the_wait(store, job_id)
    assert sync_report(store, config, job_id, "vercel") == "running"
    dropped = repository.get_check_run(store, "chkrun_other")
    assert dropped.status == "abandoned" and "not of deploy-gate's check" in dropped.last_error
    [own] = vercel_api.runs.values()
    assert own["checkId"] == repository.stored_check(store, PROJECT).check_id and own["externalId"] == job_id
    assert not [c for c in vercel_api.calls if c.path.endswith("chkrun_other")] and vercel_api.violations == []


def test_a_new_run_after_the_verdict_is_a_rerequest_too(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    define_check(store, config)
    first = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    [run] = vercel_api.start_runs("dpl_1")
    announce(store, config, run)
    run_job(store, config, first)
    assert sync_report(store, config, first, "vercel") == "completed: succeeded"
    [fresh] = vercel_api.start_runs("dpl_1")  # a rerun under a new run id
    again = announce(store, config, fresh)
    assert (again.status, again.run) == ("accepted", True) and again.job_id != first
    assert repository.get_check_run(store, fresh["id"]).job_id == again.job_id
    assert repository.get_check_run(store, run["id"]).job_id == first, "the concluded run keeps the job that concluded it"
    run_job(store, config, again.job_id)
    assert sync_report(store, config, again.job_id, "vercel") == "completed: succeeded"
    assert (vercel_api.runs[fresh["id"]]["conclusion"], vercel_api.runs[fresh["id"]]["externalId"]) == ("succeeded", again.job_id)
