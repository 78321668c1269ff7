"""The console's pages for real jobs, and approve, reject and cancel changing the job as the API does."""

import dataclasses
import re

import pytest

from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit_recovery import submit_restore
from service.prisma.database import parse_database_url
from service.store import repository
from tests.aws import describe_instance, with_status
from tests.conftest import create_scratch_database, drop_scratch_database
from tests.service.http.console.conftest import ADD_EMAIL, BASE, gate_job, post_form, sign_in, waiting_rollback

DROP = {**BASE, "20240102_drop": 'DROP TABLE "Patient";\n'}


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html", response.get_data(as_text=True)
    return response.get_data(as_text=True)


def section(html, target):
    found = re.search(rf'<section data-target="{target}">(.*?)</section>', html, re.S)
    assert found, f"no section for {target}"
    return found.group(1)


def test_the_overview_shows_each_target_as_its_last_jobs_read_it(client, store, config):
    sign_in(client)
    assert section(page(client, "/console/"), "staging").count('class="verdict">none<') == 1
    gate_job(store, config, BASE, apply=True, commit="abc123", deployment_id="dpl_1")
    gate_job(store, config, ADD_EMAIL, kind=JobKind.CHECK, phase="pre")
    waiting = waiting_rollback(store, config)
    staging = section(page(client, "/console/"), "staging")
    assert '<span class="verdict">proceed</span>' in staging
    # The newest status step is the rollback's deploy of ADD_EMAIL, which read add_email as pending
    # and then applied it: shown applied, as the history now is.
    assert re.search(r'<tr data-migration="20240101_patients">\s*<td>20240101_patients</td><td class="state">applied</td>', staging)
    assert re.search(r'<tr data-migration="20240102_add_email">\s*<td>20240102_add_email</td><td class="state">applied</td>', staging)
    assert "lock-holder" not in staging
    waiting_part = staging.split('class="waiting"')[1].split('class="last-deploy"')[0]
    assert f'href="/console/jobs/{waiting.id}"' in waiting_part
    last_deploy = staging.split('class="last-deploy"')[1]
    assert "<code>abc123</code>" in last_deploy and "<code>dpl_1</code>" in last_deploy


def test_the_overview_shows_who_holds_prismas_lock_and_edited_migrations(client, store):
    sign_in(client)
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    repository.transition(store, job.id, JobState.RUNNING)
    status = {
        "migrations": [{"name": "20240101_patients", "state": "applied", "edited": True}],
        "lock_holder": {"pid": 4242, "application_name": "prisma-migrate"},
    }
    repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, facts={"status": status})
    staging = section(page(client, "/console/"), "staging")
    assert '<tr data-migration="20240101_patients" class="attention">' in staging
    assert 'class="lock-holder"' in staging and "4242" in staging and "prisma-migrate" in staging


def test_the_jobs_list_is_newest_first_filtered_and_paged(client, store):
    sign_in(client, "reader-token")
    created = [
        job.id for job, _ in repository.create_jobs(store, [repository.NewJob(JobKind.CHECK if n % 2 else JobKind.RECOVER, "staging", "ci") for n in range(53)])
    ]
    html = page(client, "/console/jobs")
    rows = re.findall(r'<tr data-job-id="([0-9a-f-]+)">', html)
    assert len(rows) == 50 and set(rows) <= set(created)
    assert 'id="filter-form"' in html and 'name="target"' in html and 'name="state"' in html and 'name="kind"' in html and 'name="verdict"' in html
    next_page = re.search(r'<a id="next-page" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    rest = re.findall(r'<tr data-job-id="([0-9a-f-]+)">', page(client, next_page))
    assert len(rest) == 3 and not set(rest) & set(rows) and set(rows) | set(rest) == set(created)
    assert 'id="next-page"' not in page(client, next_page)
    checks = page(client, "/console/jobs?kind=check&target=staging&state=queued")
    assert len(re.findall(r'<td class="kind">check</td>', checks)) == 26 and '<td class="kind">recover</td>' not in checks
    assert 'id="jobs"' in page(client, "/console/jobs?verdict=blocked") and "data-job-id" not in page(client, "/console/jobs?verdict=blocked")


def test_a_filter_the_jobs_do_not_have_is_422(client):
    sign_in(client, "reader-token")
    response = client.get("/console/jobs?state=sleeping")
    assert response.status_code == 422 and "state: must be one of" in response.get_json()["detail"]


def test_the_jobs_list_fragment_is_the_live_table_alone(client, store):
    sign_in(client, "reader-token")
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    html = page(client, "/console/jobs?fragment=live")
    # What console.js swaps in: the element of the same id on the full page, without the page around it.
    assert html.lstrip().startswith('<div id="jobs-live">') and '<table id="jobs">' in html
    assert f'data-job-id="{job.id}"' in html and "<header>" not in html


def test_a_check_jobs_page_shows_its_verdict_reasons_timeline_facts_and_lint(client, store, config):
    sign_in(client, "reader-token")
    job, _ = gate_job(store, config, DROP, kind=JobKind.CHECK, phase="pre")
    assert job.verdict is Verdict.BLOCKED
    html = page(client, f"/console/jobs/{job.id}")
    assert '<strong id="job-state">succeeded</strong>' in html and '<strong id="job-verdict">blocked</strong>' in html
    reasons = re.search(r'<ul id="reasons">(.*?)</ul>', html, re.S).group(1)
    assert reasons.count("<li>") == len(job.reasons) and "drop-table" in reasons
    assert '<li data-step="status"' in html and '<li data-step="lint"' in html
    facts = re.search(r'<dl id="facts">(.*?)</dl>', html, re.S).group(1)
    assert "<dt>status</dt>" in facts and "<dt>lint</dt>" in facts and "&#34;up_to_date&#34;: false" in facts
    finding = re.search(r'<li class="finding severity-error">(.*?)</li>', html, re.S).group(1)
    assert '<strong class="rule">drop-table</strong>' in finding and "<pre>DROP TABLE &#34;Patient&#34;;</pre>" in finding
    assert 'class="explanation"' in finding
    assert f'<a id="report-link" href="/console/jobs/{job.id}/report">' in html
    assert 'id="plan"' not in html and 'id="cancel-form"' not in html


def test_a_waiting_jobs_page_shows_the_plan_its_sql_and_the_forms_the_person_may_use(client, store, config):
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    html = page(client, f"/console/jobs/{job.id}")
    assert '<strong id="job-state">waiting_approval</strong>' in html
    plan = re.search(r'<section id="plan">(.*?)</section>', html, re.S).group(1)
    assert '<pre class="sql">ALTER TABLE &#34;Patient&#34; DROP COLUMN IF EXISTS &#34;email&#34;;</pre>' in plan
    assert "run the rollback SQL of 20240102_add_email" in plan and 'id="verification"' in plan
    verification = re.search(r'<div id="verification">(.*?)</div>', plan, re.S).group(1)
    # In words, not the raw document (which names the shadow server and scratch database); this target has no shadow.
    assert "<li>Not verified: the target has no shadow server" in verification and "{" not in verification
    for form in ("approve", "reject"):
        assert re.search(rf'<form id="{form}-form" method="post" action="/console/jobs/{job.id}/{form}">\s*<input type="hidden" name="csrf_token"', plan)
        assert re.search(rf'id="{form}-form".*?<textarea name="comment"', plan, re.S)
    assert 'id="cancel-form"' not in html  # oncall may approve, not cancel
    sign_in(client, "ci-token")
    html = page(client, f"/console/jobs/{job.id}")
    assert 'id="cancel-form"' in html and 'id="approve-form"' not in html


def test_parent_and_child_links(client, store):
    sign_in(client, "reader-token")
    parent, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
    child, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ci", parent_id=parent.id)
    assert f'<a class="child-link" href="/console/jobs/{child.id}">' in page(client, f"/console/jobs/{parent.id}")
    assert f'<a id="parent-link" href="/console/jobs/{parent.id}">' in page(client, f"/console/jobs/{child.id}")


def test_the_job_fragment_is_the_live_block(client, store):
    sign_in(client, "reader-token")
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    html = page(client, f"/console/jobs/{job.id}?fragment=live")
    assert html.lstrip().startswith('<div id="job-live">') and 'id="job-state">queued<' in html and '<ol id="timeline">' in html


def test_no_such_job_is_404(client):
    sign_in(client, "reader-token")
    assert client.get("/console/jobs/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/console/jobs/not-a-uuid").status_code == 404


def test_approving_runs_the_job_again_as_the_api_does(client, store, config, enqueued):
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    response = post_form(client, f"/console/jobs/{job.id}/approve", f"/console/jobs/{job.id}", comment="looked at the SQL")
    assert response.status_code == 303 and response.headers["Location"] == f"/console/jobs/{job.id}"
    approved, events = repository.job_with_journal(store, job.id)
    assert approved.state is JobState.RUNNING and enqueued[-1] == job.id
    approval = next(e for e in events if e.kind == "approval")
    assert (approval.step, approval.data) == ("execute", {"approved": True, "by": "oncall", "comment": "looked at the SQL"})
    again = post_form(client, f"/console/jobs/{job.id}/approve", f"/console/jobs/{job.id}")
    assert again.status_code == 409 and "not waiting for approval" in again.get_json()["detail"]


def test_a_waiting_jobs_live_part_carries_its_plan_and_forms(client, store, config):
    """The plan and the forms come and go with the state: console.js swaps them in with the rest."""
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    html = page(client, f"/console/jobs/{job.id}?fragment=live")
    assert html.lstrip().startswith('<div id="job-live">')
    assert '<section id="plan">' in html and 'id="approve-form"' in html and 'id="reject-form"' in html and 'name="csrf_token"' in html


def test_rejecting_blocks_the_job_as_the_api_does(client, store, config, enqueued):
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    before = list(enqueued)
    response = post_form(client, f"/console/jobs/{job.id}/reject", f"/console/jobs/{job.id}", comment="not now")
    assert response.status_code == 303
    rejected = repository.get_job(store, job.id)
    waited_with = [f"{reason} (while it waited for approval)" for reason in job.reasons]
    assert waited_with and (rejected.state, rejected.verdict, rejected.reasons) == (
        JobState.SUCCEEDED,
        Verdict.BLOCKED,
        ["rejected by oncall: not now", *waited_with],
    )
    assert enqueued == before


@pytest.mark.parametrize("comment", ["x" * 2001, "nul\x00"])
def test_a_comment_the_api_would_refuse_is_refused(client, store, config, comment):
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    response = post_form(client, f"/console/jobs/{job.id}/approve", f"/console/jobs/{job.id}", comment=comment)
    assert response.status_code == 422 and repository.get_job(store, job.id).state is JobState.WAITING_APPROVAL


def test_cancelling_records_who_did(client, store):
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    sign_in(client, "ci-token")
    response = post_form(client, f"/console/jobs/{job.id}/cancel", f"/console/jobs/{job.id}")
    assert response.status_code == 303
    canceled, events = repository.job_with_journal(store, job.id)
    assert canceled.state is JobState.CANCELED and events[-1].data == {"by": "ci"}
    assert 'id="cancel-form"' not in page(client, f"/console/jobs/{job.id}")


def test_the_incident_report_as_html(client, store, config):
    job = waiting_rollback(store, config)
    sign_in(client, "reader-token")
    response = client.get(f"/console/jobs/{job.id}/report")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<h1>Incident report: rollback of 20240102_add_email on staging</h1>" in html and "<table>" in html
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_static_files_are_served(client):
    with client.get("/console/static/console.js") as script, client.get("/console/static/console.css") as style:
        assert "EventSource" in script.get_data(as_text=True) and style.status_code == 200


def test_an_unknown_console_page_is_a_404_problem(client):
    response = client.get("/console/nothing-here")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def restore_section(html):
    found = re.search(r'<section id="restore">(.*?)</section>', html, re.S)
    assert found, "no restore section"
    return found.group(1)


def aws_steps(html):
    return [re.sub(r"<time[^>]*>.*?</time>\s*", "", step).strip() for step in re.findall(r'<li data-step="[^"]+">(.*?)</li>', restore_section(html), re.S)]


def no_secret(html):
    """Nothing that holds a password: moto's instances have one, and the target's URL may."""
    return "not-a-real-password" not in html and "Password" not in html and "postgresql://" not in html


def restored(store, config, client_for):
    """A snapshot restore of moto's `prod` to prod-recovery, approved and run to its endpoint."""
    job, _ = submit_restore(store, config, "staging", {"snapshot_id": "prod-before-incident", "new_identifier": "prod-recovery"}, "ops")
    run_job(store, config, job.id, rds_client_for=client_for)
    repository.record_approval(store, job.id, approved=True, by="oncall", comment=None)
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    return done


@pytest.fixture
def snapshot(rds_api, instance):
    rds_api.create_db_snapshot(DBSnapshotIdentifier="prod-before-incident", DBInstanceIdentifier="prod")


def test_a_restore_jobs_page_from_approval_through_the_aws_steps_to_the_endpoint(client, store, config, rds_api, snapshot, rds_client_for, enqueued):
    job, _ = submit_restore(store, config, "staging", {"snapshot_id": "prod-before-incident", "new_identifier": "prod-recovery"}, "ops")
    assert run_job(store, config, job.id, rds_client_for=rds_client_for).state is JobState.WAITING_APPROVAL
    sign_in(client, "oncall-token")
    path = f"/console/jobs/{job.id}"

    html = page(client, path)
    assert '<strong id="job-state">waiting_approval</strong>' in html and no_secret(html)
    plan = re.search(r'<section id="plan">(.*?)</section>', html, re.S).group(1)
    assert "<li>Restore snapshot prod-before-incident of instance prod to a NEW instance prod-recovery (db.t3.medium); prod itself is not changed.</li>" in plan
    assert 'id="approve-form"' in plan
    restore = restore_section(html)
    assert '<span id="endpoint-pending">none yet: the restore starts once it is approved</span>' in restore and 'id="endpoint"' not in restore
    assert aws_steps(html) == [] and "Nothing is cut over to it\n      without a second job and a second approval" in restore

    assert post_form(client, f"{path}/approve", path, comment="restore it").status_code == 303 and enqueued[-1] == job.id
    # AWS still creating the instance: the job waits, and the page says what AWS was asked and said.
    with pytest.raises(Deferred):
        run_job(store, config, job.id, rds_client_for=with_status(rds_client_for, "prod-recovery", ["creating"]))
    html = page(client, path)
    assert '<strong id="job-state">running</strong>' in html and no_secret(html)
    assert aws_steps(html) == [
        "AWS is restoring to the new instance prod-recovery",
        "asked AWS: prod-recovery is creating, not available yet; asking again later",
    ]
    assert "none yet: AWS is restoring; the endpoint shows here when it is done" in restore_section(html) and 'id="endpoint"' not in html

    done = run_job(store, config, job.id, rds_client_for=rds_client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    described = describe_instance(rds_api, "prod-recovery")["Endpoint"]
    address = f"{described['Address']}:{described['Port']}"
    html = page(client, path)
    assert '<strong id="job-state">succeeded</strong>' in html and no_secret(html)
    restore = restore_section(html)
    assert f'<code id="endpoint">{address}</code>' in restore and '<button type="button" class="copy" data-copy="endpoint"' in restore
    assert aws_steps(html)[-1] == f"prod-recovery is available at {address}" and len(aws_steps(html)) == 3
    # What to do next, in words; oncall may not ask for the cut-over, and is told who may.
    next_step = re.search(r'<div id="next-step">(.*?)</div>', restore, re.S).group(1)
    assert "The application still uses prod, which the restore did not change." in next_step and "waits for its own approval" in next_step
    assert 'id="cutover-form"' not in next_step and f"<code>POST /v1/jobs/{job.id}/cutover</code>" in next_step
    # The live part carries all of it, so the page shows the endpoint without a reload.
    assert f'<code id="endpoint">{address}</code>' in page(client, f"{path}?fragment=live")


def test_the_cut_over_is_asked_for_from_the_restores_page_and_waits_for_its_own_approval(client, store, config, snapshot, rds_client_for, enqueued):
    restore = restored(store, config, rds_client_for)
    path = f"/console/jobs/{restore.id}"
    sign_in(client, "ci-token")
    assert 'id="cutover-form"' in page(client, path)
    response = post_form(client, f"{path}/cutover", path)
    assert response.status_code == 303
    cutover_id = response.headers["Location"].rsplit("/", 1)[1]
    cutover = repository.get_job(store, cutover_id)
    assert (cutover.kind, cutover.params["restore_job"], cutover.requested_by, enqueued[-1]) == (JobKind.RESTORE, restore.id, "ci", cutover_id)
    # Asked again: the same cut-over, not a second one.
    assert post_form(client, f"{path}/cutover", path).headers["Location"] == f"/console/jobs/{cutover_id}"

    assert run_job(store, config, cutover_id, rds_client_for=rds_client_for).state is JobState.WAITING_APPROVAL
    html = page(client, f"/console/jobs/{cutover_id}")
    assert "<h2>Cut-over</h2>" in restore_section(html) and "Rename instance prod to prod-old-" in html and 'id="next-step"' not in html
    assert "<h1>Cut-over job on staging</h1>" in html and f'<a id="restore-link" href="/console/jobs/{restore.id}">' in html
    assert "none yet: the cut-over starts once it is approved" in restore_section(html)
    repository.record_approval(store, cutover_id, approved=True, by="oncall", comment=None)
    assert run_job(store, config, cutover_id, rds_client_for=rds_client_for).verdict is Verdict.PROCEED
    html = page(client, f"/console/jobs/{cutover_id}")
    assert re.search(r'<code id="endpoint">prod\.[^<]+:5432</code>', restore_section(html)) and no_secret(html)
    assert aws_steps(html)[-1].startswith("prod is the restored copy and available at prod.")


def test_a_cut_over_of_a_job_that_restored_nothing_is_refused(client, store):
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    sign_in(client, "ci-token")
    response = post_form(client, f"/console/jobs/{job.id}/cutover", f"/console/jobs/{job.id}")
    assert response.status_code == 409 and "is not a restore" in response.get_json()["detail"]
    sign_in(client, "oncall-token")
    assert post_form(client, f"/console/jobs/{job.id}/cutover", f"/console/jobs/{job.id}").status_code == 403


PARTIAL = {
    **BASE,
    "20240102_clinic": 'BEGIN;\nCREATE TABLE "Clinic" ("id" SERIAL PRIMARY KEY);\nCOMMIT;\nALTER TABLE "Patient" ADD COLUMN "clinicId" INT REFERENCES "Nowhere"("id");\n',
}


@pytest.fixture
def shadow_db():
    database = create_scratch_database()
    yield database
    drop_scratch_database(database)


def test_a_waiting_recover_jobs_page_shows_its_rollback_verified_on_the_shadow(client, store, config, shadow_db):
    """The migration fails on the shadow's copy as it did on the target, and the rollback undoes what it left behind."""
    staging = config.targets["staging"]
    config.targets["staging"] = dataclasses.replace(staging, shadow=parse_database_url(shadow_db.url))
    deploy, _ = gate_job(store, config, PARTIAL, apply=True)
    (recover,) = repository.child_jobs(store, deploy.id)
    recover = run_job(store, config, recover.id)
    assert recover.state is JobState.WAITING_APPROVAL  # the policy does not allow automatic rollbacks
    assert recover.facts["facts:1"]["facts"]["rollback_verified"] is True
    sign_in(client, "oncall-token")
    html = page(client, f"/console/jobs/{recover.id}")
    plan = re.search(r'<section id="plan">(.*?)</section>', html, re.S).group(1)
    assert "DROP TABLE IF EXISTS &#34;Clinic&#34;;" in plan
    verification = re.search(r'<div id="verification">(.*?)</div>', plan, re.S).group(1)
    assert "<li>Verified: on a scratch copy of the history" in verification
    assert "<li>apply 20240102_clinic: fails as it did on the target (SQLSTATE 42P01): relation &#34;Nowhere&#34; does not exist</li>" in verification
    assert "<li>undoes: table public.Clinic added" in verification


def drift_job(store, differences):
    """A finished drift job as the runner leaves it: its step journaled, its fact recorded."""
    job, _ = repository.create_job(store, kind=JobKind.DRIFT, target="staging", requested_by="schedule")
    repository.transition(store, job.id, JobState.RUNNING)
    fact = {
        "mode": "warn", "checked": True, "drifted": bool(differences), "schemas": ["public"], "applied": ["20240101_patients"],
        "differences": [{"category": "indexes", "kind": "index", "name": "public.x", "change": "added", "text": text, "expected": None, "found": {}} for text in differences],
        "ignored": [], "notes": [], "new": list(differences), "previous_job": None,
    }  # fmt: skip
    repository.record_step(store, job.id, "drift", "started")
    repository.record_step(store, job.id, "drift", "finished", fact)
    return repository.transition(store, job.id, JobState.SUCCEEDED, verdict=Verdict.PROCEED, facts={"drift": fact})


def test_drift_shows_on_its_jobs_page_and_on_the_overview(client, store):
    sign_in(client, "reader-token")
    assert '<span class="drift">not checked yet</span>' in section(page(client, "/console/"), "staging")
    line = '+ index "Patient_name_idx" ON "Patient" (name) — not in the migrations'
    job = drift_job(store, [line, '~ column "Patient".name: type text in the migrations, bigint on the target'])
    html = page(client, f"/console/jobs/{job.id}")
    drift = re.search(r'<section id="drift">(.*?)</section>', html, re.S).group(1)
    assert '<li class="on-target-only"><code>+ index &#34;Patient_name_idx&#34; ON &#34;Patient&#34; (name) — not in the migrations</code></li>' in drift
    assert '<li class="defined-otherwise">' in drift and "drift mode warn" in drift
    assert "New since the previous drift check (notified as drift_detected): 2" in drift
    staging = section(page(client, "/console/"), "staging")
    assert '<span class="drift">2 differences from the applied migrations</span>' in staging and f'href="/console/jobs/{job.id}"' in staging
    assert '<td class="kind">drift</td>' in page(client, "/console/jobs?kind=drift")
