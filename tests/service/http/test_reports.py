"""GET /v1/jobs/{id}/report: JSON, Markdown or HTML by `format` or Accept, the read scope, 404 and 422.

Every response is checked against openapi.yaml by the contract client, the JSON reports of real
recover, rollback, check and deploy jobs included.
"""

from dataclasses import replace

import pytest

from service.config.records import Config, Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.links import job_links, report_token
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.contract import ContractClient
from tests.service.http.conftest import auth
from tests.store import migrated_store

BASE = {"20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'}
NAME_REQUIRED = {**BASE, "20240102_name_required": 'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'}
ADD_EMAIL = {
    **BASE,
    "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n\n-- ROLLBACK SQL\n-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";\n',
}


@pytest.fixture
def config(config):
    """The HTTP tests' targets and tokens, and a token that may deploy but not read."""
    return Config(config.targets, (*config.tokens, Token("deployer", hash_token("deployer-token"), frozenset({"deploy"}))))


@pytest.fixture
def store(app, scratch_db):
    with scratch_db.connect() as conn:
        yield conn


def deploy(store, config, scripts):
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(
        store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True, "commit": "abc123"}, bundle_digest=digest
    )
    return run_job(store, config, job.id), digest


@pytest.fixture
def recovered(store, config, target_db):
    """A real recover job: a NOT NULL that the rows violate, marked rolled back."""
    deploy(store, config, BASE)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    deployed, _ = deploy(store, config, NAME_REQUIRED)
    child = repository.finished_steps(store, deployed.id)["recover"]["job"]
    job = run_job(store, config, child)
    assert job.verdict is Verdict.BLOCKED
    return job


@pytest.fixture
def queued_recover(store):
    job, _ = repository.create_job(store, kind=JobKind.RECOVER, target="staging", requested_by="ops", params={"phase": "failed"})
    return job


def get_report(client, job_id, query="", token="reader-token", **headers):
    return client.get(f"/v1/jobs/{job_id}/report{query}", headers={**auth(token), **headers})


def test_json_by_default_with_the_checklist_of_a_real_recover_job(client, recovered):
    response = get_report(client, recovered.id)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "Accept" in response.headers["Vary"]
    report = response.get_json()
    assert report["title"] == "Incident report: recover of 20240102_name_required on staging"
    assert report["job"]["commit"] == "abc123" and report["job"]["verdict"] == "blocked"
    assert (report["failure"]["sqlstate"], report["failure"]["error_class"]) == ("23502", "data")
    assert [d["action"] for d in report["decisions"]] == ["mark_rolled_back"]
    items = {item["id"]: item for item in report["checklist"]}
    assert list(items) == [
        "migration_identified", "sql_reviewed", "rollback_tested", "backup_accessible", "team_notified",
        "rollback_executed", "history_updated", "functionality_verified", "incident_documented",
    ]  # fmt: skip
    assert items["migration_identified"]["done"] is True and items["migration_identified"]["at"]
    assert items["rollback_executed"]["done"] is None and items["rollback_executed"]["at"] is None
    assert items["history_updated"]["done"] is True
    # Ticked only on what a person or the journal shows: nobody reviewed, nobody was told, the application was not checked.
    assert (items["sql_reviewed"]["done"], items["team_notified"]["done"], items["functionality_verified"]["done"]) == (False, False, False)
    assert items["functionality_verified"]["evidence"].startswith("not checked by deploy-gate")
    # A NOT NULL the rows violate: PostgreSQL undid the file, so there is nothing to roll back.
    assert report["rollback_sql"]["not_needed_because"].startswith("nothing to roll back: 20240102_name_required has no transaction control")
    assert items["incident_documented"]["done"] is True
    assert [a["step"] for a in report["actions"]] == ["act:1:mark_rolled_back"]


def test_accept_text_markdown_gets_markdown(client, recovered):
    response = get_report(client, recovered.id, Accept="text/markdown")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    text = response.get_data(as_text=True)
    assert text.startswith("# Incident report: recover of 20240102_name_required on staging\n")
    assert "## Migration Rollback Checklist" in text
    assert "- [x] Updated Prisma migration history (" in text
    assert "| Commit | `abc123` |" in text


@pytest.mark.parametrize(
    "query, accept, mimetype",
    [
        ("?format=markdown", "application/json", "text/markdown"),
        ("?format=json", "text/markdown", "application/json"),
        ("", "text/html, text/markdown;q=0.5", "text/html"),
        ("", "text/markdown, text/html;q=0.5", "text/markdown"),
        ("", "text/html", "text/html"),
        ("", "application/json, text/html", "application/json"),
        ("", "*/*", "application/json"),
    ],
)
def test_format_wins_over_accept_and_json_is_the_default(client, queued_recover, query, accept, mimetype):
    response = get_report(client, queued_recover.id, query, Accept=accept)
    assert response.status_code == 200 and response.mimetype == mimetype


def test_a_queued_job_has_a_report_of_what_is_not_done_yet(client, queued_recover):
    report = get_report(client, queued_recover.id).get_json()
    items = {item["id"]: item for item in report["checklist"]}
    assert items["migration_identified"] == {
        "id": "migration_identified", "item": "Identified the problematic migration", "done": False, "at": None, "evidence": "not yet: the job is queued",
    }  # fmt: skip
    assert items["team_notified"]["evidence"] == "no notification recorded"
    assert report["timeline"][0]["summary"] == "created: recover job on staging, queued"
    text = get_report(client, queued_recover.id, "?format=markdown").get_data(as_text=True)
    assert "Not known yet: the job is queued." in text.splitlines()
    assert "- [ ] Identified the problematic migration: not yet: the job is queued" in text.splitlines()


def test_a_rollback_job_report(client, store, config):
    _, digest = deploy(store, config, ADD_EMAIL)
    job, _ = repository.create_job(
        store, kind=JobKind.ROLLBACK, target="staging", requested_by="ops", params={"migration": "20240102_add_email"}, bundle_digest=digest
    )
    assert run_job(store, config, job.id).state is JobState.WAITING_APPROVAL  # no shadow server: always approved
    approved = client.post(f"/v1/jobs/{job.id}/approve", json={"comment": "checked"}, headers=auth("oncall-token"))
    assert approved.status_code == 200
    assert run_job(store, config, job.id).verdict is Verdict.PROCEED
    report = get_report(client, job.id).get_json()
    assert report["approvals"][0]["by"] == "oncall" and report["approvals"][0]["comment"] == "checked"
    assert report["history"]["checked"] is True and report["history"]["migration_state"] == "rolled_back"
    assert report["rollback_sql"]["sql"] == 'ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";'
    items = {item["id"]: item for item in report["checklist"]}
    assert (items["rollback_tested"]["done"], items["rollback_executed"]["done"], items["functionality_verified"]["done"]) == (False, True, False)
    # oncall approved, through the API, a plan that showed the rollback SQL.
    assert (items["sql_reviewed"]["done"], items["sql_reviewed"]["at"]) == (True, report["approvals"][0]["at"])
    assert items["sql_reviewed"]["evidence"].startswith("oncall approved a plan that showed the rollback SQL (execute)")


def test_a_token_is_needed(client, queued_recover):
    response = client.get(f"/v1/jobs/{queued_recover.id}/report")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_read_scope_is_needed(client, queued_recover):
    response = get_report(client, queued_recover.id, token="deployer-token")
    assert response.status_code == 403
    assert response.get_json()["detail"] == "The token lacks the `read` scope."


@pytest.mark.parametrize("job_id", ["00000000-0000-4000-8000-000000000000", "nope"])
def test_unknown_and_malformed_ids_are_404(client, job_id):
    response = get_report(client, job_id, Accept="text/markdown")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_a_check_job_has_a_report_without_a_checklist(client, store, config):
    digest = repository.store_bundle(store, migrations_from_bundle(BASE))
    job, _ = repository.create_job(
        store, kind=JobKind.CHECK, target="staging", requested_by="ci", params={"phase": "post", "deployment_id": "dpl_1"}, bundle_digest=digest
    )
    assert run_job(store, config, job.id).verdict is Verdict.BLOCKED
    response = get_report(client, job.id)
    assert response.status_code == 200 and response.mimetype == "application/json"
    report = response.get_json()
    assert report["title"] == "Check report: staging"
    assert report["checklist"] == [] and report["recovery"] is None and report["applied"] == []
    assert report["job"]["deployment_id"] == "dpl_1" and report["job"]["reasons"] == ["not applied: 20240101_patients"]
    assert report["migrations"] == [{"name": "20240101_patients", "state": "pending", "edited": False, "sqlstate": None, "message": None}]
    text = get_report(client, job.id, "?format=markdown").get_data(as_text=True)
    assert text.startswith("# Check report: staging\n") and "## Migration Rollback Checklist" not in text
    assert "| `20240101_patients` | pending |  |" in text.splitlines()


def test_a_failed_deploy_points_to_its_recover_jobs_report(client, recovered):
    response = get_report(client, recovered.parent_id)
    assert response.status_code == 200
    report = response.get_json()
    assert report["job"]["kind"] == "deploy" and report["job"]["verdict"] == "blocked" and report["checklist"] == []
    assert report["recovery"]["job_id"] == recovered.id
    assert report["recovery"]["report_url"] == f"/v1/jobs/{recovered.id}/report"
    assert [(a["migration"], a["outcome"]) for a in report["applied"]] == [("20240102_name_required", "failed")]


def test_an_unknown_format_is_422(client, queued_recover):
    response = get_report(client, queued_recover.id, "?format=pdf")
    assert response.status_code == 422 and response.get_json()["detail"] == "format: must be one of markdown, json, html."


LINK_SECRET = "report-link-secret-0123456789"


@pytest.fixture
def linked_app(scratch_db, config):
    """The same app with a report-link secret configured."""
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, replace(config, report_link_secret=LINK_SECRET), enqueue=lambda *job_ids: None)
    app.test_client_class = ContractClient
    yield app
    app.extensions["deploy_gate"].close()


@pytest.fixture
def linked_client(linked_app):
    return linked_app.test_client()


@pytest.fixture
def two_checks(store):
    return [repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci", params={"phase": "pre"})[0] for _ in range(2)]


def link_of(job_id):
    return job_links(job_id, "", LINK_SECRET)["report"]


def test_a_report_link_opens_its_report_without_a_bearer_token(linked_client, two_checks):
    job = two_checks[0]
    assert link_of(job.id) == f"/v1/jobs/{job.id}/report?token={report_token(LINK_SECRET, job.id)}"
    response = linked_client.get(link_of(job.id))
    assert response.status_code == 200 and response.get_json()["job"]["id"] == job.id
    assert response.headers["Cache-Control"] == "private, no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    markdown = linked_client.get(link_of(job.id) + "&format=markdown")
    assert markdown.status_code == 200 and markdown.get_data(as_text=True).startswith("# Check report: staging\n")


def test_a_report_link_opens_nothing_else(linked_client, two_checks):
    job, other = two_checks
    token = report_token(LINK_SECRET, job.id)
    for path in (f"/v1/jobs/{other.id}/report?token={token}", f"/v1/jobs/{job.id}?token={token}", f"/v1/jobs?token={token}", f"/v1/targets?token={token}"):
        response = linked_client.get(path)
        assert response.status_code == 401, path
        assert response.mimetype == "application/problem+json"
    assert linked_client.post(f"/v1/jobs/{job.id}/cancel?token={token}").status_code == 401


@pytest.mark.parametrize(
    "token_for",
    [
        lambda job_id: "0" * 64,
        lambda job_id: "",
        lambda job_id: "not-hex-at-all",
        lambda job_id: "é" * 64,
        lambda job_id: report_token("another-secret-0123456789", job_id),
        lambda job_id: report_token(LINK_SECRET, job_id).upper(),
        lambda job_id: report_token(LINK_SECRET, job_id)[:-1],
    ],
    ids=["zeros", "empty", "not-hex", "not-ascii", "another-secret", "upper-case", "truncated"],
)
def test_a_wrong_link_token_is_401_like_a_missing_bearer_token(linked_client, two_checks, token_for):
    job = two_checks[0]
    token = token_for(job.id)
    response = linked_client.get(f"/v1/jobs/{job.id}/report", query_string={"token": token})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["detail"] == "The link's token does not open this report; or send `Authorization: Bearer <token>`."


def test_without_a_secret_link_tokens_are_refused(client, two_checks):
    job = two_checks[0]
    # What a link would be, had this server a secret: with none configured it opens nothing.
    response = client.get(link_of(job.id))
    assert response.status_code == 401
    assert client.get(f"/v1/jobs/{job.id}/report?token=").status_code == 401


def test_a_bearer_token_still_works_and_decides_when_both_are_sent(linked_client, two_checks):
    job = two_checks[0]
    assert get_report(linked_client, job.id).status_code == 200
    # With an Authorization header the bearer token decides, whatever the link token says.
    assert get_report(linked_client, job.id, "?token=wrong").status_code == 200
    assert get_report(linked_client, job.id, f"?token={report_token(LINK_SECRET, job.id)}", token="nope").status_code == 401
    assert get_report(linked_client, job.id, f"?token={report_token(LINK_SECRET, job.id)}", token="deployer-token").status_code == 403


def test_a_link_for_an_unknown_job_is_404_and_a_bad_format_still_422(linked_client):
    unknown = "00000000-0000-4000-8000-000000000000"
    assert linked_client.get(link_of(unknown)).status_code == 404
    assert linked_client.get(link_of(unknown) + "&format=pdf").status_code == 422


@pytest.mark.parametrize(
    "query, accept",
    [("?format=html", "application/json"), ("", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")],
)
def test_html_for_a_browser_or_on_request(client, recovered, query, accept):
    response = get_report(client, recovered.id, query, Accept=accept)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<h1>Incident report: recover of 20240102_name_required on staging</h1>" in html
    assert "<h2>Migration Rollback Checklist</h2>" in html and "<table>" in html
    assert response.headers["Cache-Control"] == "private, no-store" and "Accept" in response.headers["Vary"]


def test_a_report_link_opens_the_html_report_in_a_browser(linked_client, two_checks):
    job = two_checks[0]
    response = linked_client.get(link_of(job.id), headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<h1>Check report: staging</h1>" in response.get_data(as_text=True)
