"""The console on and off: without a session secret every /console/... is a 404 saying how to turn it on."""

import logging
from dataclasses import replace

import pytest

from service.config.settings import Settings
from service.http import create_app
from service.jobs.states import JobKind
from service.store import repository
from tests.service.http.console.conftest import sign_in
from tests.store import migrated_store


@pytest.fixture
def off_app(scratch_db, config, caplog):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    with caplog.at_level(logging.INFO, logger="service.http.console"):
        app = create_app(settings, replace(config, console_session_secret=None), enqueue=lambda *job_ids: None)
    yield app
    app.extensions["deploy_gate"].close()


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/console/"),
        ("GET", "/console/login"),
        ("POST", "/console/login"),
        ("GET", "/console/jobs"),
        ("GET", "/console/static/console.js"),
        ("GET", "/console/x"),
    ],
)
def test_off_every_console_path_is_a_404_problem_that_says_how_to_turn_it_on(off_app, method, path):
    response = off_app.test_client().open(path, method=method, data={"token": "ci-token"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert "console_session_secret_env" in response.get_json()["detail"]
    assert "Set-Cookie" not in response.headers


def test_off_the_app_says_so_once_at_start(off_app, caplog):
    lines = [record.getMessage() for record in caplog.get_records("setup") if record.name == "service.http.console"]
    assert lines == ["the ops console is off: no console_session_secret_env in the targets file, or its variable is empty"]


def test_off_the_api_still_serves_html_reports(off_app, store):
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
    response = off_app.test_client().get(f"/v1/jobs/{job.id}/report?format=html", headers={"Authorization": "Bearer reader-token"})
    assert response.status_code == 200 and response.mimetype == "text/html" and 'id="logout-form"' not in response.get_data(as_text=True)


def test_on_the_api_ignores_the_console_cookie(client):
    sign_in(client, "ci-token")
    assert client.get("/v1/jobs").status_code == 401
