"""GitHub: signatures, the protection rule payload, the App's JWT and token, and the rule's answer on a fake GitHub."""

import time
from dataclasses import replace

import jwt
import pytest

from service.integrations import ApiUnavailable, InvalidPayload, RetryLater, github, sync_report
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.links import report_token
from service.store import repository
from tests.service.integrations.conftest import PUBLIC_URL, store_bundle_for
from tests.service.integrations.payloads import APP_ID, COMMIT, GITHUB_SECRET, INSTALLATION, REPOSITORY, encode, github_signature, protection_rule


def delivery(config, payload, event="deployment_protection_rule", delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"):
    return github.parse_delivery(config.integrations.github, delivery_id, event, encode(payload))


def test_the_signature_is_sha256_and_the_hex_hmac_of_the_raw_body():
    body = encode({"zen": "Design for failure."})
    good = github_signature(body)
    assert good.startswith("sha256=") and github.verify_signature(GITHUB_SECRET, body, good)
    assert not github.verify_signature(GITHUB_SECRET, body, good.removeprefix("sha256="))
    assert not github.verify_signature(GITHUB_SECRET, body, None)
    assert not github.verify_signature(GITHUB_SECRET, body + b"\n", good)
    assert not github.verify_signature("another-secret-of-length", body, good)


def test_the_protection_rule_payload_parses(config, github_api):
    parsed = delivery(config, protection_rule(github_api.url, run_id=77))
    assert (parsed.event, parsed.action, parsed.name) == ("deployment_protection_rule", "requested", "deployment_protection_rule.requested")
    assert parsed.rule == github.ProtectionRule(
        REPOSITORY, "production", f"{github_api.url}/repos/{REPOSITORY}/actions/runs/77/deployment_protection_rule", INSTALLATION, COMMIT, "987654"
    )
    ping = github.parse_delivery(config.integrations.github, "d", "ping", encode({"zen": "Keep it logically awesome.", "hook_id": 1}))
    assert (ping.event, ping.rule) == ("ping", None)


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"installation": None}, "installation: must be an object"),
        ({"installation": {"id": "42"}}, "installation.id"),
        ({"environment": ""}, "environment"),
        ({"repository": {"name": "shop"}}, "repository.full_name"),
        ({"deployment_callback_url": None}, "deployment_callback_url"),
    ],
)
def test_protection_rules_without_what_they_need_are_refused(config, github_api, change, complaint):
    payload = {**protection_rule(github_api.url), **change}
    with pytest.raises(InvalidPayload, match=complaint):
        delivery(config, payload)


def test_headers_and_bodies_that_are_not_github_s_are_refused(config):
    integration = config.integrations.github
    with pytest.raises(InvalidPayload, match="X-GitHub-Delivery"):
        github.parse_delivery(integration, None, "ping", b"{}")
    with pytest.raises(InvalidPayload, match="X-GitHub-Event"):
        github.parse_delivery(integration, "d", "", b"{}")
    with pytest.raises(InvalidPayload, match="application/json"):
        github.parse_delivery(integration, "d", "ping", b"payload=%7B%7D")


@pytest.mark.parametrize(
    "callback",
    [
        "https://attacker.example.com/repos/acme/shop/actions/runs/1/deployment_protection_rule",
        "{api}/repos/acme/other/actions/runs/1/deployment_protection_rule",
        "{api}/repos/acme/shop/actions/runs/1/deployment_protection_rule/../../../../../app",
        "{api}.attacker.example.com/repos/acme/shop/actions/runs/1/deployment_protection_rule",
    ],
)
def test_the_installation_token_only_goes_to_the_configured_api(config, github_api, callback):
    payload = {**protection_rule(github_api.url), "deployment_callback_url": callback.format(api=github_api.url)}
    with pytest.raises(github.CallbackRefused, match="deployment_callback_url must be"):
        delivery(config, payload)


def test_the_app_jwt_is_rs256_signed_with_the_app_key_and_short_lived(config, github_key):
    app = github.GitHubApp("https://api.github.com", APP_ID, config.integrations.github.private_key, clock=lambda: 1_700_000_000)
    token = app.app_jwt()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, github_key.public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 + 540, "iss": str(APP_ID)}


def test_an_installation_token_is_asked_for_one_repository_and_deployments_only(config, github_api):
    app = github.GitHubApp(github_api.url, APP_ID, config.integrations.github.private_key)
    token = app.installation_token(INSTALLATION, REPOSITORY)
    assert token in github_api.tokens and github_api.violations == []
    [call] = github_api.calls
    assert call.path == f"/app/installations/{INSTALLATION}/access_tokens"
    assert call.body == {"repositories": ["shop"], "permissions": {"deployments": "write"}}
    assert github_api.jwt_claims[0]["iss"] == str(APP_ID) and github_api.jwt_claims[0]["exp"] > time.time()
    with pytest.raises(github.ApiRefused, match="404"):
        app.installation_token(INSTALLATION + 1, REPOSITORY)
    other_key = github.GitHubApp(github_api.url, APP_ID, _other_key())
    with pytest.raises(ApiUnavailable, match="401"):
        other_key.installation_token(INSTALLATION, REPOSITORY)


def _other_key() -> str:
    from tests.service.integrations.fakes import rsa_key

    return rsa_key().private_pem


def open_rule(store, config, github_api, *, run_id=1234, delivery_id="d-1"):
    github_api.add_pending(run_id, "production")
    receipt = github.receive(store, config, delivery(config, protection_rule(github_api.url, run_id=run_id), delivery_id=delivery_id))
    assert (receipt.status, receipt.run, receipt.report) == ("accepted", True, "github")
    return receipt.job_id


def test_a_proceed_verdict_approves_the_deployment(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    job = repository.get_job(store, job_id)
    assert (job.kind, job.target, job.requested_by) == (JobKind.CHECK, "production", "github")
    assert job.params == {"phase": "pre", "apply": False, "commit": COMMIT, "deployment_id": "987654"}
    assert sync_report(store, config, job_id, "github") == "waiting for the job"
    assert github_api.calls == [], "nothing is said before the job ends"

    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "github") == "approved"
    [review] = github_api.reviews
    assert (review["run_id"], review["environment_name"], review["state"]) == (1234, "production", "approved")
    assert review["comment"].startswith(f"deploy-gate approved this deployment: check job {job_id} on target production, proceed.")
    assert f"Report: {PUBLIC_URL}/v1/jobs/{job_id}/report" in review["comment"]
    assert [c.path for c in github_api.calls] == [
        f"/app/installations/{INSTALLATION}/access_tokens",
        f"/repos/{REPOSITORY}/actions/runs/1234/deployment_protection_rule",
    ]
    assert github_api.violations == []
    report = repository.get_integration_report(store, job_id, "github")
    assert (report.status, report.reported_state) == ("done", "approved")
    assert sync_report(store, config, job_id, "github") == "nothing to do"


def test_with_a_report_link_secret_the_comment_links_the_report_with_its_token(store, config, github_api):
    secret = "report-link-secret-0123456789"
    config = replace(config, integrations=replace(config.integrations, report_link_secret=secret), report_link_secret=secret)
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "github") == "approved"
    [review] = github_api.reviews
    assert review["comment"].splitlines()[-1] == f"Report: {PUBLIC_URL}/v1/jobs/{job_id}/report?token={report_token(secret, job_id)}"
    assert secret not in review["comment"]


def test_a_blocked_verdict_rejects_it_with_the_reasons(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    reasons = [f"lint drop-table in 2024010{n}_x line 1: dropping a table loses its data" for n in range(7)]
    repository.transition(store, job_id, JobState.RUNNING)
    repository.transition(store, job_id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=reasons)
    assert sync_report(store, config, job_id, "github") == "rejected"
    [review] = github_api.reviews
    assert review["state"] == "rejected"
    lines = review["comment"].splitlines()
    assert lines[0] == f"deploy-gate rejected this deployment: check job {job_id} on target production, blocked."
    assert lines[1:6] == [f"- {reason}" for reason in reasons[:5]] and lines[6] == "- and 2 more"
    assert github_api.violations == []


def test_a_job_that_could_not_finish_is_a_rejection(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    repository.transition(store, job_id, JobState.RUNNING)
    repository.transition(store, job_id, JobState.FAILED, reasons=["lost the connection: server closed the connection"])
    assert sync_report(store, config, job_id, "github") == "rejected"
    assert "could not check" in github_api.reviews[0]["comment"] and "lost the connection" in github_api.reviews[0]["comment"]


def test_a_github_that_fails_is_retried_and_the_verdict_stays(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    job = run_job(store, config, job_id)
    github_api.fail(502, 503)
    for _ in range(2):
        with pytest.raises(RetryLater):
            sync_report(store, config, job_id, "github")
    assert repository.get_integration_report(store, job_id, "github").attempts == 2
    assert sync_report(store, config, job_id, "github") == "approved"
    assert repository.get_job(store, job_id) == job
    assert len(github_api.reviews) == 1


def test_a_rule_no_longer_pending_ends_the_report(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api)
    github_api.pending.clear()  # a person decided first, or the run was canceled
    run_job(store, config, job_id)
    assert sync_report(store, config, job_id, "github") == "abandoned"
    report = repository.get_integration_report(store, job_id, "github")
    assert report.status == "abandoned" and "422" in report.last_error and "No pending deployment requests" in report.last_error
    assert repository.get_job(store, job_id).verdict is Verdict.PROCEED


def test_replays_pings_other_events_and_unmapped_environments(store, config, github_api):
    store_bundle_for(store, config)
    job_id = open_rule(store, config, github_api, delivery_id="same")
    replay = github.receive(store, config, delivery(config, protection_rule(github_api.url), delivery_id="same"))
    assert (replay.status, replay.job_id, replay.run) == ("duplicate", job_id, False)
    assert store.execute("SELECT count(*) FROM job WHERE requested_by = 'github'").fetchone() == (1,)
    assert store.execute("SELECT event, job_id::text FROM webhook_delivery WHERE delivery_id = 'same'").fetchone() == (
        "deployment_protection_rule.requested",
        job_id,
    )

    ping = github.receive(store, config, github.parse_delivery(config.integrations.github, "p", "ping", encode({"zen": "Speak like a human."})))
    assert (ping.status, ping.detail) == ("recorded", "pong")
    push = github.receive(store, config, github.parse_delivery(config.integrations.github, "q", "push", encode({"ref": "refs/heads/main"})))
    assert push.status == "ignored"
    unmapped = github.receive(store, config, delivery(config, protection_rule(github_api.url, environment="qa"), delivery_id="r"))
    assert unmapped.status == "ignored" and "acme/shop:qa" in unmapped.detail
    assert store.execute("SELECT count(*) FROM integration_report").fetchone() == (1,)


def test_without_a_stored_bundle_the_rule_waits_for_a_person(store, config, github_api):
    receipt = github.receive(store, config, delivery(config, protection_rule(github_api.url)))
    assert (receipt.status, receipt.job_id) == ("not_checked", None)
    assert "waits for a person's review" in receipt.detail
