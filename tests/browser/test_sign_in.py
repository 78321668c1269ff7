"""Signing in to the console with an API token, signing out, and what a browser without a session gets."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TOKENS, expect_sign_in_page

pytestmark = pytest.mark.browser


def test_signing_in_with_a_token_opens_the_targets_overview_without_keeping_the_token(console, page, screenshot):
    page.goto(f"{console.url}/console/login")
    expect(page.locator("form#login-form input[name=token]")).to_have_attribute("type", "password")
    screenshot(page, "login")
    console.sign_in(page, "oncall")
    expect(page.locator('section[data-target="staging"]')).to_be_visible()
    expect(page.locator('section[data-target="staging"] .verdict')).to_have_text("none")
    cookies = page.context.cookies()
    assert cookies and all(cookie["httpOnly"] and cookie["sameSite"] == "Lax" for cookie in cookies)
    assert not any(TOKENS["oncall"][0] in cookie["value"] for cookie in cookies)
    assert page.locator("form#logout-form input[type=hidden][name=csrf_token]").count() == 1


def test_a_wrong_token_shows_the_form_again_with_an_error(console, page):
    page.goto(f"{console.url}/console/login")
    page.locator("form#login-form input[name=token]").fill("not-a-token")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.locator("form#login-form [type=submit]").click()
    assert answer.value.status == 401
    expect(page.locator("p.error")).to_be_visible()
    expect(page.locator("form#login-form")).to_be_visible()
    page.goto(f"{console.url}/console/")
    expect_sign_in_page(page, console, "/console/")


def test_without_a_session_a_page_sends_the_browser_to_sign_in_and_back(console, page):
    job = console.waiting_rollback()
    page.goto(console.job_url(job.id))
    expect_sign_in_page(page, console, f"/console/jobs/{job.id}")
    page.locator("form#login-form input[name=token]").fill(TOKENS["reader"][0])
    page.locator("form#login-form [type=submit]").click()
    expect(page.locator("#job-state")).to_have_text("waiting_approval")


def test_without_a_session_a_post_is_refused_and_changes_nothing(console, page):
    job = console.waiting_rollback()
    response = page.request.post(f"{console.job_url(job.id)}/approve", form={"comment": "who am I"}, max_redirects=0)
    assert response.status == 401 and response.headers["content-type"].startswith("application/problem+json")
    assert console.job(job.id).state == job.state


def test_signing_out_ends_the_session(console, page):
    console.sign_in(page, "reader")
    page.locator("form#logout-form [type=submit]").click()
    page.goto(f"{console.url}/console/jobs")
    expect_sign_in_page(page, console, "/console/jobs")
