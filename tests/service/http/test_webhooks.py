"""POST /v1/webhooks/vercel and /v1/webhooks/github over HTTP: signed, mis-signed, replayed and reordered deliveries."""

import logging

import pytest

from service.config.records import Config, Token, hash_token
from service.http import webhooks
from tests.service.http.conftest import TOKENS, auth
from tests.service.integrations.conftest import VERCEL_TOKEN, make_config
from tests.service.integrations.fake_vercel import FakeVercel
from tests.service.integrations.fakes import FakeGitHub, rsa_key
from tests.service.integrations.payloads import (
    APP_ID,
    INSTALLATION,
    REPOSITORY,
    TEAM,
    encode,
    github_signature,
    protection_rule,
    signed_github,
    signed_vercel,
    vercel_event,
    vercel_signature,
)
from tests.store import migrated_store

MIGRATIONS = [{"name": "20240101_patients", "sql": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);'}]


@pytest.fixture(scope="module")
def github_key():
    return rsa_key()


@pytest.fixture
def fakes(github_key):
    with FakeVercel(VERCEL_TOKEN, TEAM) as vercel, FakeGitHub(APP_ID, github_key.public_key, INSTALLATION, REPOSITORY) as github:
        yield vercel, github


@pytest.fixture
def config(target_db, fakes, github_key):
    """Targets production and staging, Vercel and GitHub integrations, the suite's tokens."""
    vercel_api, github_api = fakes
    made = make_config(target_db, vercel_api, github_api, github_key)
    tokens = tuple(Token(token.split("-")[0], hash_token(token), frozenset(scopes)) for token, scopes in TOKENS.items())
    return Config(made.targets, tokens, integrations=made.integrations)


@pytest.fixture
def synced(app):
    """The reports whose first sync the API starts, instead of Celery tasks."""
    started = []
    app.extensions[webhooks.REPORT_SYNC] = lambda job_id, source: started.append((job_id, source))
    return started


@pytest.fixture
def bundle(client, enqueued):
    """A bundle stored for production (and staging), as a build's deploy stores it."""
    for target in ("production", "staging"):
        assert client.post("/v1/deploys", json={"target": target, "migrations": MIGRATIONS}, headers=auth()).status_code == 202
    enqueued.clear()


def post_vercel(client, event, headers=None):
    body, signed = signed_vercel(event)
    return client.post("/v1/webhooks/vercel", data=body, headers=headers if headers is not None else signed)


def post_github(client, event, payload, **kwargs):
    body, headers = signed_github(event, payload, **kwargs)
    return client.post("/v1/webhooks/github", data=body, headers=headers)


def count(scratch_db, table, where="true"):
    return scratch_db.query(f"SELECT count(*) FROM {table} WHERE {where}")[0][0]


def test_deployment_created_queues_a_check_job_and_its_vercel_check(client, bundle, enqueued, synced, scratch_db):
    event = vercel_event("deployment.created", "dpl_1", delivery="d-created")
    response = post_vercel(client, event)
    assert response.status_code == 202
    receipt = response.get_json()
    job_id = receipt["job_id"]
    assert receipt == {"delivery": "d-created", "event": "deployment.created", "status": "accepted", "job_id": job_id,
                       "detail": f"check job {job_id} on target production; its verdict goes to the deployment's run of the Vercel check deploy-gate"}  # fmt: skip
    assert enqueued == [job_id] and synced == [(job_id, "vercel")]
    job = client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()
    assert (job["kind"], job["target"], job["state"], job["requested_by"]) == ("check", "production", "queued", "vercel")
    assert job["params"]["deployment_id"] == "dpl_1" and job["params"]["phase"] == "pre"
    assert scratch_db.query("SELECT source, delivery_id, event, subject, job_id::text FROM webhook_delivery") == [
        ("vercel", "d-created", "deployment.created", "dpl_1", job_id)
    ]
    assert scratch_db.query("SELECT subject, status, remote_id FROM integration_report WHERE job_id = %s", (job_id,)) == [("dpl_1", "open", None)]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "x-vercel-signature": ""},
        {"Content-Type": "application/json", "x-vercel-signature": "0" * 40},
        {"Content-Type": "application/json", "x-vercel-signature": vercel_signature(b"another body")},
        {
            "Content-Type": "application/json",
            "x-vercel-signature": vercel_signature(encode(vercel_event("deployment.created", "dpl_1")), "not-the-secret-at-all"),
        },
    ],
)
def test_a_bad_or_missing_vercel_signature_stores_and_enqueues_nothing(client, bundle, enqueued, synced, scratch_db, headers):
    jobs_before = count(scratch_db, "job")
    response = post_vercel(client, vercel_event("deployment.created", "dpl_1"), headers)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json" and "x-vercel-signature" in response.get_json()["detail"]
    assert count(scratch_db, "job") == jobs_before and count(scratch_db, "webhook_delivery") == 0
    assert enqueued == [] and synced == []


def test_a_replayed_delivery_starts_nothing_twice(client, bundle, enqueued, synced, scratch_db):
    event = vercel_event("deployment.created", "dpl_1")
    first = post_vercel(client, event)
    replay = post_vercel(client, event)
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.get_json()["status"] == "duplicate" and replay.get_json()["job_id"] == first.get_json()["job_id"]
    assert enqueued == [first.get_json()["job_id"]] and len(synced) == 1
    assert count(scratch_db, "job", "requested_by = 'vercel'") == 1
    # The same event under another delivery id finds the deployment's job.
    again = post_vercel(client, vercel_event("deployment.created", "dpl_1"))
    assert (again.status_code, again.get_json()["status"], again.get_json()["job_id"]) == (200, "duplicate", first.get_json()["job_id"])
    assert len(enqueued) == 1 and count(scratch_db, "job", "requested_by = 'vercel'") == 1


def test_an_error_before_its_created_event_is_harmless(client, bundle, enqueued, synced, scratch_db):
    error = post_vercel(client, vercel_event("deployment.error", "dpl_1"))
    assert error.status_code == 202
    recover = client.get(f"/v1/jobs/{error.get_json()['job_id']}", headers=auth()).get_json()
    assert (recover["kind"], recover["target"]) == ("recover", "production")
    created = post_vercel(client, vercel_event("deployment.created", "dpl_1"))
    assert created.status_code == 202 and "the deployment has ended (deployment.error)" in created.get_json()["detail"]
    assert enqueued == [error.get_json()["job_id"], created.get_json()["job_id"]]
    assert synced == [] and count(scratch_db, "integration_report") == 0


def test_later_events_are_noted_on_the_deployment_s_job(client, bundle, enqueued, synced, scratch_db):
    job_id = post_vercel(client, vercel_event("deployment.created", "dpl_1")).get_json()["job_id"]
    for kind in ("deployment.succeeded", "deployment.ready", "deployment.promoted"):
        response = post_vercel(client, vercel_event(kind, "dpl_1", delivery=kind))
        assert (response.status_code, response.get_json()["status"]) == (200, "recorded")
    notes = [e["data"]["event"] for e in client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()["events"] if e["kind"] == "note"]
    assert notes == ["deployment.succeeded", "deployment.ready", "deployment.promoted"]
    canceled = post_vercel(client, vercel_event("deployment.canceled", "dpl_1"))
    assert canceled.get_json()["status"] == "recorded"
    assert scratch_db.query("SELECT status FROM integration_report") == [("abandoned",)]
    assert enqueued == [job_id]


def test_a_check_run_is_taken_by_the_deployment_s_job_and_a_rerequest_queues_the_check_again(client, bundle, enqueued, synced, scratch_db):
    job_id = post_vercel(client, vercel_event("deployment.created", "dpl_1")).get_json()["job_id"]
    run = {"id": "chkrun_1", "checkId": "chk_1", "deploymentId": "dpl_1"}
    announced = post_vercel(client, vercel_event("deployment.checkrun.start", "dpl_1", check_run=run))
    assert (announced.status_code, announced.get_json()["status"], announced.get_json()["job_id"]) == (200, "recorded", job_id)
    assert enqueued == [job_id] and synced == [(job_id, "vercel"), (job_id, "vercel")], "the job's report is synced at once"
    scratch_db.query("UPDATE vercel_check_run SET status = 'done' RETURNING 1")
    scratch_db.query("UPDATE integration_report SET status = 'done' RETURNING 1")
    response = post_vercel(client, vercel_event("deployment.checkrun.start", "dpl_1", check_run=run))
    assert response.status_code == 202
    rerun = response.get_json()["job_id"]
    assert rerun != job_id and enqueued == [job_id, rerun] and synced[-1] == (rerun, "vercel")
    assert scratch_db.query("SELECT job_id::text, status FROM vercel_check_run") == [(rerun, "open")]
    canceled = post_vercel(client, vercel_event("deployment.checkrun.cancel", "dpl_1", check_run=run))
    assert (canceled.status_code, canceled.get_json()["status"]) == (200, "recorded")
    assert scratch_db.query("SELECT status FROM integration_report WHERE job_id = %s", (rerun,)) == [("abandoned",)]


@pytest.mark.parametrize(
    "event, detail",
    [
        (vercel_event("deployment.created", "dpl_1", project="prj_unknown"), "no target is configured for project prj_unknown"),
        (vercel_event("deployment.created", "dpl_1", target="staging"), "Vercel target staging"),
        ({"id": "d-1", "type": "project.created", "payload": {"project": {"id": "prj_new"}}}, "does not act on project.created"),
        (vercel_event("deployment.check-rerequested", "dpl_1", check_id="chk_unknown"), "with Vercel's checks API v2"),
        (vercel_event("deployment.checkrun.cancel", "dpl_1", check_run={"id": "chkrun_9", "checkId": "chk_1"}), "not one deploy-gate reports on"),
    ],
)
def test_what_is_not_for_deploy_gate_is_acknowledged(client, bundle, enqueued, scratch_db, event, detail):
    response = post_vercel(client, event)
    assert (response.status_code, response.get_json()["status"]) == (200, "ignored")
    assert detail in response.get_json()["detail"]
    assert enqueued == [] and count(scratch_db, "webhook_delivery") == 1


def test_without_a_stored_bundle_nothing_is_checked(client, enqueued, scratch_db):
    response = post_vercel(client, vercel_event("deployment.created", "dpl_1"))
    assert (response.status_code, response.get_json()["status"]) == (200, "not_checked")
    assert "post a deploy with the migrations" in response.get_json()["detail"]
    assert enqueued == [] and count(scratch_db, "job") == 0


@pytest.mark.parametrize("body", [b"{not json", b'["a list"]', encode({"id": "d", "type": "deployment.created", "payload": {"deployment": {}}})])
def test_a_signed_body_vercel_would_not_send_is_a_400_and_stores_nothing(client, bundle, scratch_db, body):
    response = client.post("/v1/webhooks/vercel", data=body, headers={"x-vercel-signature": vercel_signature(body)})
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert count(scratch_db, "webhook_delivery") == 0


def test_a_protection_rule_queues_a_check_job(client, bundle, enqueued, synced, scratch_db, fakes):
    _, github_api = fakes
    response = post_github(client, "deployment_protection_rule", protection_rule(github_api.url, run_id=5), delivery="g-1")
    assert response.status_code == 202
    receipt = response.get_json()
    assert (receipt["delivery"], receipt["event"], receipt["status"]) == ("g-1", "deployment_protection_rule.requested", "accepted")
    assert enqueued == [receipt["job_id"]] and synced == [(receipt["job_id"], "github")]
    callback = f"{github_api.url}/repos/{REPOSITORY}/actions/runs/5/deployment_protection_rule"
    assert scratch_db.query("SELECT subject, details->>'environment', (details->>'installation_id')::int FROM integration_report") == [
        (callback, "production", INSTALLATION)
    ]
    replay = post_github(client, "deployment_protection_rule", protection_rule(github_api.url, run_id=5), delivery="g-1")
    assert (replay.status_code, replay.get_json()["status"]) == (200, "duplicate")
    assert len(enqueued) == 1 and count(scratch_db, "job", "requested_by = 'github'") == 1


def test_a_ping_is_answered_and_other_events_acknowledged(client, enqueued, scratch_db):
    ping = post_github(
        client, "ping", {"zen": "Practicality beats purity.", "hook_id": 292430182, "hook": {"type": "App", "events": ["deployment_protection_rule"]}}
    )
    assert (ping.status_code, ping.get_json()["status"], ping.get_json()["detail"]) == (200, "recorded", "pong")
    push = post_github(client, "push", {"ref": "refs/heads/main"})
    assert (push.status_code, push.get_json()["status"]) == (200, "ignored")
    assert enqueued == [] and count(scratch_db, "webhook_delivery") == 2


def test_a_bad_github_signature_stores_and_enqueues_nothing(client, bundle, enqueued, scratch_db, fakes):
    _, github_api = fakes
    for secret in ("not-the-webhook-secret-at-all",):
        response = post_github(client, "deployment_protection_rule", protection_rule(github_api.url), secret=secret)
        assert response.status_code == 401 and "X-Hub-Signature-256" in response.get_json()["detail"]
    body, headers = signed_github("ping", {"zen": "x"})
    del headers["X-Hub-Signature-256"]
    assert client.post("/v1/webhooks/github", data=body, headers=headers).status_code == 401
    headers["X-Hub-Signature-256"] = "sha1=" + "0" * 40
    assert client.post("/v1/webhooks/github", data=body, headers=headers).status_code == 401
    assert enqueued == [] and count(scratch_db, "webhook_delivery") == 0


def test_a_github_delivery_without_its_headers_or_with_a_foreign_callback_stores_nothing(client, bundle, enqueued, scratch_db, fakes):
    _, github_api = fakes
    body, headers = signed_github("ping", {"zen": "x"})
    del headers["X-GitHub-Delivery"]
    response = client.post("/v1/webhooks/github", data=body, headers=headers)
    assert response.status_code == 400 and "X-GitHub-Delivery" in response.get_json()["detail"]
    foreign = {
        **protection_rule(github_api.url),
        "deployment_callback_url": "https://collector.example.net/repos/acme/shop/actions/runs/1/deployment_protection_rule",
    }
    response = post_github(client, "deployment_protection_rule", foreign)
    assert response.status_code == 422 and "deployment_callback_url must be" in response.get_json()["detail"]
    assert enqueued == [] and count(scratch_db, "webhook_delivery") == 0


def test_a_sync_that_cannot_be_enqueued_is_left_to_the_beat_task(client, bundle, enqueued, app, caplog):
    caplog.set_level(logging.WARNING, logger=webhooks.__name__)

    def broker_down(job_id, source):
        raise ConnectionError("redis://:hunter2@broker:6379")

    app.extensions[webhooks.REPORT_SYNC] = broker_down
    response = post_vercel(client, vercel_event("deployment.created", "dpl_1"))
    assert response.status_code == 202 and enqueued == [response.get_json()["job_id"]]
    assert "the beat task will" in caplog.text and "hunter2" not in caplog.text


@pytest.mark.parametrize("path", ["/v1/webhooks/vercel", "/v1/webhooks/github"])
def test_an_integration_that_is_not_configured_is_not_found(scratch_db, path):
    from service.config.settings import Settings
    from service.http import create_app
    from tests.contract import ContractClient

    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    app.test_client_class = ContractClient
    try:
        response = app.test_client().post(path, data=b"{}", headers={"x-vercel-signature": "x", "X-Hub-Signature-256": "sha256=x"})
        assert response.status_code == 404 and "integration is configured" in response.get_json()["detail"]
    finally:
        app.extensions["deploy_gate"].close()


def test_a_github_delivery_replayed_under_a_fresh_delivery_id_starts_nothing(client, bundle, enqueued, synced, scratch_db, fakes):
    # X-GitHub-Delivery is a header the signature does not cover: whoever saw one signed delivery
    # could otherwise start a check job per made-up id.
    _, github_api = fakes
    payload = protection_rule(github_api.url, run_id=7)
    first = post_github(client, "deployment_protection_rule", payload, delivery="g-original")
    assert first.status_code == 202
    for fresh in ("g-replay-1", "g-replay-2"):
        replay = post_github(client, "deployment_protection_rule", payload, delivery=fresh)
        assert replay.status_code == 200, replay.get_json()
        receipt = replay.get_json()
        assert (receipt["status"], receipt["job_id"]) == ("duplicate", first.get_json()["job_id"])
        assert "delivered before (as g-original)" in receipt["detail"]
    assert enqueued == [first.get_json()["job_id"]] and count(scratch_db, "job", "requested_by = 'github'") == 1
    # The same rule for another run is another body: a job of its own.
    other = post_github(client, "deployment_protection_rule", protection_rule(github_api.url, run_id=8), delivery="g-other")
    assert other.status_code == 202 and count(scratch_db, "job", "requested_by = 'github'") == 2


def test_the_same_github_body_under_another_event_is_another_delivery(client, enqueued, scratch_db):
    body = {"zen": "Keep it logically awesome."}
    assert post_github(client, "ping", body, delivery="p-1").get_json()["status"] == "recorded"
    assert post_github(client, "push", body, delivery="p-2").get_json()["status"] == "ignored"
    assert post_github(client, "ping", body, delivery="p-3").get_json()["status"] == "duplicate"


def deeply_nested(depth):
    """A JSON object whose `payload` nests `depth` levels in all."""
    return ('{"id": "d-deep", "type": "deployment.created", "payload": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()


@pytest.mark.parametrize("depth", [65, 5000])
def test_a_signed_body_nested_deeper_than_64_levels_is_a_400_on_both_webhooks(client, bundle, enqueued, scratch_db, depth):
    body = deeply_nested(depth)
    vercel = client.post("/v1/webhooks/vercel", data=body, headers={"Content-Type": "application/json", "x-vercel-signature": vercel_signature(body)})
    _, headers = signed_github("deployment_protection_rule", {})
    headers["X-Hub-Signature-256"] = github_signature(body)
    github = client.post("/v1/webhooks/github", data=body, headers=headers)
    for response in (vercel, github):
        assert response.status_code == 400 and response.content_type == "application/problem+json"
        assert response.get_json()["detail"] == "the JSON body nests arrays and objects deeper than 64 levels"
    assert enqueued == [] and count(scratch_db, "webhook_delivery") == 0


def test_the_signature_is_checked_before_the_depth(client, scratch_db):
    body = deeply_nested(5000)
    response = client.post("/v1/webhooks/vercel", data=body, headers={"Content-Type": "application/json", "x-vercel-signature": "0" * 40})
    assert response.status_code == 401


@pytest.mark.parametrize("header", ["X-GitHub-Delivery", "X-GitHub-Event"])
@pytest.mark.parametrize("value", ["two words", "a" * 101, "tab\there"])
def test_github_headers_are_1_to_100_visible_ascii_characters(client, scratch_db, header, value):
    body, headers = signed_github("ping", {"zen": "x"})
    response = client.post("/v1/webhooks/github", data=body, headers={**headers, header: value})
    assert response.status_code == 400 and header in response.get_json()["detail"]
    assert count(scratch_db, "webhook_delivery") == 0


@pytest.mark.parametrize("delivery, status", [("d\x07bell", 400), ("d\u0085next-line", 400), ("d\u00a0\u4e2d\U0001f600", 200)])
def test_a_vercel_id_holds_no_control_character(client, scratch_db, delivery, status):
    response = post_vercel(client, {"id": delivery, "type": "integration-configuration.removed", "payload": {}})
    assert response.status_code == status, response.get_json()


def test_a_vercel_delivery_cannot_be_replayed_under_a_fresh_id(client, bundle, enqueued, synced, scratch_db):
    # Vercel's delivery id is inside the signed body: a replay that changes it breaks the signature
    # (GitHub's is a header, hence its digest above).
    body, headers = signed_vercel(vercel_event("deployment.created", "dpl_9", delivery="d-original"))
    assert client.post("/v1/webhooks/vercel", data=body, headers=headers).status_code == 202
    forged = body.replace(b'"d-original"', b'"d-fresh"')
    assert client.post("/v1/webhooks/vercel", data=forged, headers=headers).status_code == 401
    assert len(enqueued) == 1 and count(scratch_db, "webhook_delivery") == 1
