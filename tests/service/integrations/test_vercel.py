"""Vercel's webhooks: signatures, documented payloads, and what each delivery does whichever checks API reports (v2 here)."""

import logging

import pytest

from service.integrations import InvalidPayload, sync_report, vercel
from service.jobs.states import JobKind
from service.store import repository
from tests.logs import logged_lines
from tests.service.integrations.conftest import make_config, store_bundle_for
from tests.service.integrations.payloads import COMMIT, PROJECT, VERCEL_SECRET, encode, vercel_event, vercel_signature


def receive(store, config, event):
    return vercel.receive(store, config, vercel.parse_event(encode(event)))


def test_the_signature_is_the_hex_hmac_sha1_of_the_raw_body():
    body = encode(vercel_event("deployment.created", "dpl_1"))
    good = vercel_signature(body)
    assert vercel.verify_signature(VERCEL_SECRET, body, good)
    assert vercel.verify_signature(VERCEL_SECRET, body, f" {good.upper()} ")
    assert not vercel.verify_signature(VERCEL_SECRET, body, None)
    assert not vercel.verify_signature(VERCEL_SECRET, body, "")
    assert not vercel.verify_signature(VERCEL_SECRET, body + b" ", good)
    assert not vercel.verify_signature("another-secret-of-length", body, good)
    assert not vercel.verify_signature(VERCEL_SECRET, body, "sha1=" + good)
    assert not vercel.verify_signature(VERCEL_SECRET, body, "é" * 40)


def test_documented_payloads_parse():
    created = vercel.parse_event(encode(vercel_event("deployment.created", "dpl_2qn7PZrx89yxY34vEZPD31Y9XVj6", delivery="d-1")))
    assert created == vercel.VercelEvent("d-1", "deployment.created", "dpl_2qn7PZrx89yxY34vEZPD31Y9XVj6", PROJECT, "production", None, COMMIT)
    preview = vercel.parse_event(encode(vercel_event("deployment.error", "dpl_x", target=None)))
    assert preview.target is None and preview.project_id == PROJECT
    rerequested = vercel.parse_event(encode(vercel_event("deployment.check-rerequested", "dpl_x", check_id="chk_9")))
    assert (rerequested.deployment_id, rerequested.check_id, rerequested.project_id) == ("dpl_x", "chk_9", None)
    other = vercel.parse_event(encode({"id": "d-2", "type": "project.created", "payload": {"project": {"id": PROJECT}}}))
    assert other == vercel.VercelEvent("d-2", "project.created")
    run = {"id": "chkrun_1", "checkId": "chk_1", "deploymentId": "dpl_x", "source": {"kind": "webhook", "webhookId": "account_hook_1"}, "timeout": 900}
    for kind in ("deployment.checkrun.start", "deployment.checkrun.cancel"):
        started = vercel.parse_event(encode(vercel_event(kind, "dpl_x", check_run=run)))
        assert (started.deployment_id, started.run_id, started.run_check_id, started.project_id) == ("dpl_x", "chkrun_1", "chk_1", PROJECT)


@pytest.mark.parametrize(
    "body, complaint",
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (encode({"type": "deployment.created", "payload": {}}), "id"),
        (encode({"id": "d", "type": 3}), "type"),
        (encode({"id": "d", "type": "deployment.created"}), "payload"),
        (encode({"id": "d", "type": "deployment.created", "payload": {"deployment": {}}}), "payload.deployment.id"),
        (encode({"id": "d", "type": "deployment.created", "payload": {"deployment": {"id": "dpl"}}}), "payload.project.id"),
        (encode({"id": "d", "type": "deployment.created", "payload": {"deployment": {"id": "dpl"}, "project": {"id": "p"}, "target": 1}}), "payload.target"),
        (encode({"id": "d", "type": "deployment.check-rerequested", "payload": {"deployment": {"id": "dpl"}}}), "payload.check"),
        (encode({"id": "x" * 201, "type": "deployment.created"}), "id"),
        (encode({"id": "d", "type": "deployment.checkrun.start", "payload": {"deployment": {"id": "dpl"}}}), "payload.checkRun"),
        (encode({"id": "d", "type": "deployment.checkrun.start", "payload": {"deployment": {"id": "dpl"}, "checkRun": {"id": "r"}}}), "checkRun.checkId"),
        (encode({"id": "d", "type": "deployment.checkrun.cancel", "payload": {"deployment": {"id": "dpl"}, "checkRun": {"checkId": "c"}}}), "checkRun.id"),
    ],
)
def test_payloads_that_are_not_vercel_s_are_refused(body, complaint):
    with pytest.raises(InvalidPayload, match=complaint):
        vercel.parse_event(body)


def test_without_a_token_jobs_run_but_no_check_is_made(store, target_db, vercel_api):
    from tests.service.integrations.conftest import make_config

    config = make_config(target_db, vercel_api, token=None)
    store_bundle_for(store, config)
    receipt = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (receipt.status, receipt.run, receipt.report) == ("accepted", True, None)
    assert repository.get_integration_report(store, receipt.job_id, "vercel") is None


def test_reordered_and_replayed_deliveries_are_harmless(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    error = vercel_event("deployment.error", "dpl_1")
    recover = receive(store, config, error)
    assert recover.status == "accepted" and repository.get_job(store, recover.job_id).kind is JobKind.RECOVER
    replay = receive(store, config, error)
    assert (replay.status, replay.job_id, replay.run) == ("duplicate", recover.job_id, False)
    # The error came first: a check job still runs, but no check is made on a deployment that ended.
    created = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (created.status, created.report) == ("accepted", None)
    assert "the deployment has ended (deployment.error)" in created.detail
    # The same event under another delivery id starts nothing new.
    again = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (again.status, again.job_id, again.run) == ("duplicate", created.job_id, False)
    jobs = store.execute("SELECT kind, count(*) FROM job WHERE requested_by = 'vercel' GROUP BY kind ORDER BY kind").fetchall()
    assert jobs == [("check", 1), ("recover", 1)]


def test_events_after_the_check_are_noted_on_the_deployment_s_jobs(store, config, vercel_api):
    store_bundle_for(store, config)
    vercel_api.add_deployment("dpl_1")
    early = receive(store, config, vercel_event("deployment.succeeded", "dpl_1", delivery="early"))
    assert (early.status, early.detail) == ("recorded", "noted on 0 jobs of deployment dpl_1")
    job_id = receive(store, config, vercel_event("deployment.created", "dpl_1")).job_id
    for kind in ("deployment.ready", "deployment.promoted"):
        assert receive(store, config, vercel_event(kind, "dpl_1", delivery=kind)).detail == "noted on 1 job of deployment dpl_1"
    notes = [event.data for event in repository.job_events(store, job_id) if event.kind == "note"]
    assert notes == [{"webhook": "vercel", "event": kind, "delivery": kind, "deployment_id": "dpl_1"} for kind in ("deployment.ready", "deployment.promoted")]
    row = store.execute("SELECT event, subject, job_id FROM webhook_delivery WHERE delivery_id = 'early'").fetchone()
    assert row == ("deployment.succeeded", "dpl_1", None)

    canceled = receive(store, config, vercel_event("deployment.canceled", "dpl_1"))
    assert canceled.status == "recorded"
    report = repository.get_integration_report(store, job_id, "vercel")
    assert report.status == "abandoned" and "deployment.canceled" in report.last_error
    assert sync_report(store, config, job_id, "vercel") == "nothing to do"
    assert vercel_api.calls == []


def test_unmapped_projects_targets_and_other_events_are_ignored(store, config):
    store_bundle_for(store, config)
    store_bundle_for(store, config, "staging")
    other_project = receive(store, config, vercel_event("deployment.created", "dpl_1", project="prj_other"))
    assert other_project.status == "ignored" and "prj_other" in other_project.detail
    unmapped_target = receive(store, config, vercel_event("deployment.created", "dpl_2", target="staging"))
    assert unmapped_target.status == "ignored" and "Vercel target staging" in unmapped_target.detail
    preview = receive(store, config, vercel_event("deployment.created", "dpl_3", target=None))
    assert preview.status == "accepted" and repository.get_job(store, preview.job_id).target == "staging"
    domain = receive(store, config, {"id": "d-domain", "type": "domain.created", "payload": {"domain": {"name": "example.com"}}})
    assert (domain.status, domain.job_id) == ("ignored", None)
    assert receive(store, config, {"id": "d-domain", "type": "domain.created"}).status == "duplicate"


def test_without_a_stored_bundle_nothing_is_checked(store, config, caplog):
    caplog.set_level(logging.WARNING, logger=vercel.__name__)
    receipt = receive(store, config, vercel_event("deployment.created", "dpl_1"))
    assert (receipt.status, receipt.job_id, receipt.run) == ("not_checked", None, False)
    assert "no migrations" in receipt.detail and "post a deploy" in receipt.detail
    assert store.execute("SELECT count(*) FROM job").fetchone() == (0,)
    assert store.execute("SELECT event FROM webhook_delivery").fetchall() == [("deployment.created",)]
    logged = [line for line in logged_lines(caplog) if line["event"] == "vercel_not_checked"]
    assert logged and logged[0]["deployment_id"] == "dpl_1"


@pytest.mark.parametrize(
    "checks_api, event, answered",
    [
        ("v2", vercel_event("deployment.check-rerequested", "dpl_1", check_id="chk_1"), "with Vercel's checks API v2"),
        ("v1", vercel_event("deployment.checkrun.start", "dpl_1", check_run={"id": "chkrun_1", "checkId": "chk_1"}), "with Vercel's checks API v1"),
        ("v1", vercel_event("deployment.checkrun.cancel", "dpl_1", check_run={"id": "chkrun_1", "checkId": "chk_1"}), "with Vercel's checks API v1"),
    ],
)
def test_the_other_checks_api_s_events_are_acknowledged_and_ignored(store, target_db, vercel_api, checks_api, event, answered):
    config = make_config(target_db, vercel_api, checks_api=checks_api)
    store_bundle_for(store, config)
    receipt = receive(store, config, event)
    assert (receipt.status, receipt.job_id) == ("ignored", None) and answered in receipt.detail
    assert vercel_api.calls == [] and store.execute("SELECT count(*) FROM vercel_check_run").fetchone() == (0,)
