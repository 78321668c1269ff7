"""Reading the console: the overview, the jobs list, a blocked deploy's page, and a report link."""

import pytest
from playwright.sync_api import expect

from service.jobs.states import JobKind, JobState
from service.links import job_links
from service.store import repository
from tests.browser.conftest import REPORT_LINK_SECRET, wait_for_live_updates
from tests.browser.scenarios import DROPS_A_COLUMN, ROLLED_BACK

pytestmark = pytest.mark.browser


def test_a_blocked_deploy_shows_why_on_its_page(console, page, screenshot):
    job = console.blocked_deploy()
    console.sign_in(page, "reader")
    page.goto(console.job_url(job.id))
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#job-verdict")).to_have_text("blocked")
    expect(page.locator("ul#reasons > li")).to_have_text(job.reasons)
    finding = page.locator("section#lint li.finding").filter(has_text="drop-column")
    expect(finding).to_contain_text('deletes every value of "Patient"."name"')
    expect(finding.locator("pre")).to_contain_text('DROP COLUMN "name"')
    expect(page.locator("ol#timeline > li[data-step]").first).to_be_visible()
    expect(page.locator("a#report-link")).to_have_attribute("href", f"/console/jobs/{job.id}/report")
    # A finished job has nothing left to cancel, approve or reject.
    assert page.locator("form#cancel-form, form#approve-form, form#reject-form").count() == 0
    screenshot(page, "blocked-deploy")
    page.locator("a#report-link").click()
    expect(page.locator("h2").filter(has_text="Lint findings")).to_be_visible()
    expect(page.locator("body")).to_contain_text(job.reasons[0])


def test_the_overview_shows_each_targets_verdict_and_migrations(console, page, screenshot):
    job = console.blocked_deploy()
    console.sign_in(page, "reader")
    staging = page.locator('section[data-target="staging"]')
    expect(staging.locator(".verdict")).to_have_text("blocked")
    expect(staging.locator(f'tr[data-migration="{ROLLED_BACK}"] .state')).to_have_text("applied")
    expect(staging.locator(f'tr[data-migration="{ROLLED_BACK}"]')).not_to_contain_class("attention")
    expect(staging.locator(f'tr[data-migration="{DROPS_A_COLUMN}"] .state')).to_have_text("pending")
    expect(staging.locator(f'tr[data-migration="{DROPS_A_COLUMN}"]')).to_contain_class("attention")
    expect(staging.locator(".last-deploy")).to_be_visible()
    screenshot(page, "overview")
    page.goto(f"{console.url}/console/jobs?verdict=blocked")
    expect(page.locator("table#jobs tr[data-job-id]")).to_have_count(1)
    expect(page.locator(f'table#jobs tr[data-job-id="{job.id}"] .verdict')).to_have_text("blocked")


def test_the_jobs_list_shows_a_job_that_changed_without_a_reload(console, page, screenshot):
    console.sign_in(page, "reader")
    page.goto(f"{console.url}/console/jobs")
    expect(page.locator("table#jobs tr[data-job-id]")).to_have_count(0)
    page.evaluate("window.stillTheSamePage = true")
    wait_for_live_updates(page, console)
    with console.store.connect() as conn:
        job, _ = repository.create_job(conn, kind=JobKind.CHECK, target="staging", requested_by="ops")
        # A worker takes it: the change is announced (a job's creation is not; nobody waits on it yet).
        repository.transition(conn, job.id, JobState.RUNNING)
    row = page.locator(f'table#jobs tr[data-job-id="{job.id}"]')
    expect(row.locator(".kind")).to_have_text("check")
    expect(row.locator(".state")).to_have_text("running")
    assert page.evaluate("window.stillTheSamePage === true")
    screenshot(page, "jobs")


def test_a_report_link_from_a_notification_opens_as_a_web_page(console, page, screenshot):
    job = console.blocked_deploy()
    link = job_links(job.id, console.url, REPORT_LINK_SECRET)["report"]
    # No session and no bearer token: the link's token opens this one report.
    response = page.goto(link)
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    expect(page.locator("h2").filter(has_text="Lint findings")).to_be_visible()
    expect(page.locator("table td").filter(has_text=DROPS_A_COLUMN).first).to_be_visible()
    expect(page.locator("body")).to_contain_text(job.reasons[0])
    screenshot(page, "report")
    forged = page.goto(link[:-4] + "0000")
    assert forged is not None and forged.status == 401
