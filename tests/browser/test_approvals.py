"""A rollback waiting for a person: its plan and SQL, approving it and watching it run, rejecting it,
and the refusals for a session without the scope or a form without its CSRF token."""

import pytest
from playwright.sync_api import expect

from service.jobs.states import JobState, Verdict
from service.store import repository
from tests.browser.conftest import csrf_token, wait_for_live_updates
from tests.browser.scenarios import ROLLED_BACK

pytestmark = pytest.mark.browser


def email_column(console):
    return console.target.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")


def test_approving_a_rollback_shows_its_sql_and_the_job_moves_on_without_a_reload(console, worker, page, screenshot):
    job = console.waiting_rollback()
    console.sign_in(page, "oncall")
    page.goto(console.job_url(job.id))
    expect(page.locator("#job-state")).to_have_text("waiting_approval")
    assert page.locator("section#plan pre.sql").text_content() == job.facts["approval"]["sql"]
    expect(page.locator("section#plan #verification")).to_contain_text("Verified: on a scratch copy of the history")
    # The approve scope without deploy: approve and reject, no cancel.
    assert page.locator("form#cancel-form").count() == 0
    screenshot(page, "rollback-waiting", focus="section#plan")

    # Prisma's lock held: the worker takes the approved job and waits for the lock, running.
    with console.holding_prisma_lock():
        page.locator("form#approve-form textarea[name=comment]").fill("looked at the plan")
        page.locator("form#approve-form [type=submit]").click()
        expect(page).to_have_url(console.job_url(job.id))
        expect(page.locator("#job-state")).to_have_text("running")
        assert page.locator("form#approve-form, form#reject-form").count() == 0
        page.evaluate("window.stillTheSamePage = true")
        wait_for_live_updates(page, console)
        steps_before = page.locator("ol#timeline > li[data-step]").count()
    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#job-verdict")).to_have_text("proceed")
    expect(page.locator("ul#reasons > li").filter(has_text="approved by oncall: looked at the plan")).to_have_count(1)
    assert page.locator("ol#timeline > li[data-step]").count() > steps_before
    assert page.evaluate("window.stillTheSamePage === true")
    screenshot(page, "rollback-done")
    assert console.job(job.id).verdict is Verdict.PROCEED and not email_column(console)


def test_rejecting_a_rollback_with_a_comment_ends_it_blocked(console, page, screenshot):
    job = console.waiting_rollback()
    console.sign_in(page, "oncall")
    page.goto(console.job_url(job.id))
    # The comment is shown as text, never run as markup.
    comment = 'too risky before the release <script>window.injected = true</script> "quoted"'
    page.locator("form#reject-form textarea[name=comment]").fill(comment)
    page.locator("form#reject-form [type=submit]").click()
    expect(page).to_have_url(console.job_url(job.id))
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#job-verdict")).to_have_text("blocked")
    expect(page.locator("ul#reasons > li").filter(has_text=f"rejected by oncall: {comment}")).to_have_count(1)
    assert page.evaluate("window.injected === undefined")
    assert page.locator("form#approve-form, form#reject-form, form#cancel-form").count() == 0
    screenshot(page, "rollback-rejected")
    rejected = console.job(job.id)
    assert (rejected.state, rejected.verdict) == (JobState.SUCCEEDED, Verdict.BLOCKED)
    assert email_column(console)


def test_a_read_only_session_sees_no_buttons_and_may_not_approve(console, page):
    job = console.waiting_rollback()
    console.sign_in(page, "reader")
    page.goto(console.job_url(job.id))
    expect(page.locator("pre.sql")).to_be_visible()
    assert page.locator("form#approve-form, form#reject-form, form#cancel-form").count() == 0
    # Even a well-formed form, with the session's own CSRF token, is refused for want of the scope.
    response = page.request.post(f"{console.job_url(job.id)}/approve", form={"csrf_token": csrf_token(page), "comment": "let me"}, max_redirects=0)
    assert response.status == 403 and response.headers["content-type"].startswith("application/problem+json")
    assert "approve" in response.json()["detail"]
    assert console.job(job.id).state is JobState.WAITING_APPROVAL


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(console, page, token):
    job = console.waiting_rollback()
    console.sign_in(page, "ops")
    page.goto(console.job_url(job.id))
    # The deploy scope: the page offers to cancel the job, beside approve and reject.
    expect(page.locator("form#cancel-form")).to_be_visible()
    form = {"comment": "no token"} if token is None else {"comment": "bad token", "csrf_token": token}
    for action in ("approve", "reject", "cancel"):
        response = page.request.post(f"{console.job_url(job.id)}/{action}", form=form, max_redirects=0)
        assert response.status == 400 and response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert "CSRF token missing or invalid" in problem["detail"]
    unchanged = console.job(job.id)
    assert (unchanged.state, unchanged.verdict, unchanged.reasons) == (job.state, job.verdict, job.reasons)
    page.reload()
    expect(page.locator("#job-state")).to_have_text("waiting_approval")
    assert email_column(console) and ROLLED_BACK in page.locator("section#plan").inner_text()


def test_a_comment_being_typed_survives_a_live_update(console, page):
    """A change to the job swaps its live part in, forms included: what the person typed stays."""
    job = console.waiting_rollback()
    console.sign_in(page, "oncall")
    page.goto(console.job_url(job.id))
    wait_for_live_updates(page, console)
    steps_before = page.locator("ol#timeline > li[data-step]").count()
    page.locator("form#reject-form textarea[name=comment]").fill("half-written thought")
    with console.store.connect() as conn:  # a journal entry, announced as the runner's are
        repository.record_step(conn, job.id, "note", "finished", {"note": "someone looked"})
    expect(page.locator("ol#timeline > li[data-step]")).to_have_count(steps_before + 1)
    expect(page.locator("form#reject-form textarea[name=comment]")).to_have_value("half-written thought")
