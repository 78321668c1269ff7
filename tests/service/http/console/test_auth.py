"""Signing in and out of the console, its cookie, CSRF tokens and scope checks."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.jobs.states import JobState
from service.store import repository
from tests.service.http.console.conftest import csrf_of, post_form, sign_in, waiting_rollback


def session_cookie(client):
    return client.get_cookie("deploy_gate_console", path="/console")


def test_the_login_page_has_the_form(client):
    response = client.get("/console/login")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'id="login-form"' in page and 'type="password" name="token"' in page


def test_a_good_token_signs_in_with_a_cookie_that_holds_no_token(client):
    response = client.post("/console/login", data={"token": "ci-token", "csrf_token": csrf_of(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/console/"
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/console" in header and "Secure" not in header
    cookie = session_cookie(client)
    assert "ci-token" not in cookie.value
    assert datetime.now(UTC) + timedelta(hours=11) < cookie.expires.replace(tzinfo=UTC) <= datetime.now(UTC) + timedelta(hours=12, minutes=1)
    assert client.get("/console/").status_code == 200


def test_over_https_the_cookie_is_secure(app):
    client = app.test_client()
    csrf = csrf_of(client, "https://localhost/console/login")
    response = client.post("https://localhost/console/login", data={"token": "ci-token", "csrf_token": csrf})
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


def test_a_bad_token_shows_the_form_again_with_the_error(client):
    response = client.post("/console/login", data={"token": "wrong", "csrf_token": csrf_of(client)})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and '<p class="error">' in page and "not valid" in page
    assert client.get("/console/").status_code == 303


def test_signing_in_goes_back_where_the_person_was_going_and_nowhere_else(client):
    response = client.get("/console/jobs?state=queued")
    assert response.status_code == 303 and response.headers["Location"] == "/console/login?next=/console/jobs?state%3Dqueued"
    back = client.post("/console/login", data={"token": "ci-token", "next": "/console/jobs?state=queued", "csrf_token": csrf_of(client)})
    assert back.headers["Location"] == "/console/jobs?state=queued"
    elsewhere = client.post("/console/login", data={"token": "ci-token", "next": "https://evil.example/", "csrf_token": csrf_of(client)})
    assert elsewhere.headers["Location"] == "/console/"


def test_sign_out_clears_the_session(client):
    sign_in(client)
    response = post_form(client, "/console/logout", "/console/")
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    assert client.get("/console/").status_code == 303


def test_the_session_id_changes_on_sign_in(client):
    before = csrf_of(client)
    sign_in(client)
    assert csrf_of(client, "/console/") != before


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(client, app, store, config, csrf):
    job = waiting_rollback(store, config)
    sign_in(client, "oncall-token")
    data = {"comment": "ok"} | ({"csrf_token": csrf} if csrf is not None else {})
    response = client.post(f"/console/jobs/{job.id}/approve", data=data)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "CSRF token missing or invalid."
    with app.extensions["deploy_gate"].pool.connection() as conn:
        assert repository.get_job(conn, job.id).state is JobState.WAITING_APPROVAL


def test_a_csrf_token_from_another_session_is_refused(app, store, config):
    job = waiting_rollback(store, config)
    other = sign_in(app.test_client(), "oncall-token")
    stolen = csrf_of(other, "/console/")
    client = sign_in(app.test_client(), "oncall-token")
    assert client.post(f"/console/jobs/{job.id}/approve", data={"csrf_token": stolen}).status_code == 400


def test_not_signed_in_a_page_redirects_and_a_post_is_401(client, store, config):
    job = waiting_rollback(store, config)
    assert client.get(f"/console/jobs/{job.id}").status_code == 303
    response = client.post(f"/console/jobs/{job.id}/approve", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_without_the_scope_a_post_is_403_naming_it_and_the_buttons_are_hidden(client, app, store, config):
    job = waiting_rollback(store, config)
    sign_in(client, "reader-token")
    page = client.get(f"/console/jobs/{job.id}").get_data(as_text=True)
    assert 'id="plan"' in page and 'id="approve-form"' not in page and 'id="reject-form"' not in page and 'id="cancel-form"' not in page
    for action, scope in (("approve", "approve"), ("reject", "approve"), ("cancel", "deploy")):
        response = post_form(client, f"/console/jobs/{job.id}/{action}", f"/console/jobs/{job.id}")
        assert response.status_code == 403 and f"`{scope}`" in response.get_json()["detail"]
    with app.extensions["deploy_gate"].pool.connection() as conn:
        assert repository.get_job(conn, job.id).state is JobState.WAITING_APPROVAL


def test_a_token_dropped_from_the_targets_file_ends_its_sessions(client, app):
    sign_in(client, "reader-token")
    gate = app.extensions["deploy_gate"]
    gate.config = replace(gate.config, tokens=tuple(t for t in gate.config.tokens if t.name != "reader"))
    assert client.get("/console/").status_code == 303
