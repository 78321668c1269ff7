"""A restore of the target's RDS instance (moto's server) on its console page: the plan waiting for a
person, approving it, and the AWS steps and the new instance's endpoint appearing without a reload."""

import pytest
from playwright.sync_api import expect

from service.jobs.states import JobState, Verdict
from service.store.repository.journal import notify
from tests.aws import describe_instance, small_instance
from tests.browser.conftest import running_worker, wait_for_live_updates
from tests.browser.scenarios import NEW_INSTANCE, RESTORED_INSTANCE, SNAPSHOT

pytestmark = pytest.mark.browser


def test_approving_a_restore_shows_its_aws_steps_then_the_endpoint_without_a_reload(console, aws_for_jobs, page, screenshot):
    rds = aws_for_jobs("rds")
    small_instance(rds, RESTORED_INSTANCE)
    rds.create_db_snapshot(DBSnapshotIdentifier=SNAPSHOT, DBInstanceIdentifier=RESTORED_INSTANCE)
    job = console.waiting_restore()
    console.sign_in(page, "ops")
    page.goto(console.job_url(job.id))
    expect(page.locator("#job-state")).to_have_text("waiting_approval")
    expect(page.locator("section#plan")).to_contain_text(f"Restore snapshot {SNAPSHOT} of instance {RESTORED_INSTANCE} to a NEW instance {NEW_INSTANCE}")
    expect(page.locator("#endpoint-pending")).to_have_text("none yet: the restore starts once it is approved")
    expect(page.locator("ol.aws-steps > li[data-step]")).to_have_count(0)

    # Approved with no worker running yet: the page is live before the restore starts, so what
    # follows reaches it through its event stream, not through the approval's redirect.
    page.locator("form#approve-form textarea[name=comment]").fill("restore it")
    page.locator("form#approve-form [type=submit]").click()
    expect(page).to_have_url(console.job_url(job.id))
    expect(page.locator("#job-state")).to_have_text("running")
    page.evaluate("window.stillTheSamePage = true")
    wait_for_live_updates(page, console)
    with running_worker():
        expect(page.locator("#job-state")).to_have_text("succeeded")
        steps = page.locator("ol.aws-steps > li[data-step]")
        expect(steps.first).to_contain_text(f"AWS is restoring to the new instance {NEW_INSTANCE}")
        described = describe_instance(rds, NEW_INSTANCE)["Endpoint"]
        address = f"{described['Address']}:{described['Port']}"
        expect(steps.last).to_contain_text(f"{NEW_INSTANCE} is available at {address}")
        expect(page.locator("#endpoint")).to_have_text(address)
        expect(page.locator("#next-step")).to_contain_text(f"The application still uses {RESTORED_INSTANCE}")
        assert page.evaluate("window.stillTheSamePage === true")
        assert "not-a-real-password" not in page.content()
        done = console.job(job.id)
        assert (done.state, done.verdict) == (JobState.SUCCEEDED, Verdict.PROCEED)

        # A person selects the endpoint; an announcement that changes nothing leaves the page, and the selection, as they are.
        page.locator("#endpoint").click()
        page.evaluate("document.getElementById('endpoint').seenBefore = true")  # a property: not in the HTML compared
        assert page.evaluate("window.getSelection().toString()") == address
        with page.expect_response(lambda response: "fragment=live" in response.url), console.store.connect() as conn:
            notify(conn, job.id)
        assert page.evaluate("document.getElementById('endpoint').seenBefore === true")
        assert page.evaluate("window.getSelection().toString()") == address

        # The endpoint copies with one click (127.0.0.1 is a secure context: the clipboard is there).
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
        copy = page.locator("button[data-copy=endpoint]")
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == address
        copy.evaluate("button => { button.textContent = 'Copy'; }")
        page.evaluate("window.getSelection().removeAllRanges()")
        screenshot(page, "restore", focus="section#restore")

        # The next step, from the same page: the cut-over, a job of its own waiting for its own approval.
        page.locator("form#cutover-form [type=submit]").click()
        expect(page.locator("h1")).to_have_text("Cut-over job on staging")
        expect(page.locator("#job-state")).to_have_text("waiting_approval")
        expect(page.locator("section#plan")).to_contain_text(f"Rename instance {RESTORED_INSTANCE} to {RESTORED_INSTANCE}-old-")
    assert [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]] == [RESTORED_INSTANCE, NEW_INSTANCE]
