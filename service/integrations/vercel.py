"""Vercel: deployment webhooks start jobs; a blocking deployment check carries each check job's verdict.

Webhooks (Vercel's "Webhooks API Reference"): `x-vercel-signature` is the hex HMAC-SHA1 of the raw
body with the webhook secret. The body is `{id, type, createdAt, region, payload}`; `id` is the
delivery's id (Vercel retries a delivery for up to a day), and the payload carries
`deployment.id`, `deployment.meta` (`githubCommitSha`, ...), `project.id`, `target` (`production`,
`staging`, or null for a preview) and, for a re-requested check, `check.id`.

| event | what deploy-gate does |
| --- | --- |
| `deployment.created` | a `check` job (phase `pre`) on the target of the project and Vercel target; with a token, a blocking check carrying the job's verdict |
| `deployment.error` | a `recover` job on that target; the deployment's open check is no longer reported |
| `deployment.check-rerequested` | the check's job again as a new job, reported on the same check |
| `deployment.succeeded`, `.ready`, `.promoted`, `.canceled` | recorded, and noted on each job of the deployment (canceled: its check is no longer reported) |
| anything else | acknowledged and ignored |

Jobs use the target's last stored bundle. With none stored yet nothing can be checked: the
delivery is acknowledged with `not_checked` (and logged), no job and no check are made, and the
deployment goes on unchecked: a check that blocks every deployment of a project until its first
bundle arrives would hold up the very deploy that posts it.

Checks use Vercel's v1 checks API with the integration's token (`?teamId=` when configured):
`POST /v1/deployments/{id}/checks` `{name, blocking: true, detailsUrl, externalId, rerequestable:
true}`, then `PATCH .../checks/{checkId}` with `status: running` (again every KEEP_FRESH_SECONDS
while the job runs, since Vercel marks a running check stale after five minutes), and finally
`status: completed` with `conclusion` `succeeded` (verdict proceed), `failed` (blocked, or the job
could not finish) or `canceled`. The v1 `output` field takes web-vitals metrics only, so the short
outcome goes in the completed check's name (`deploy-gate: blocked: ...`, at most 100 characters)
and the details behind `detailsUrl`, the job's report (with its token when report links are
signed, see `service.links`, so a person can open it from Vercel's dashboard). `externalId` is the
job id: before creating a check, the deployment's checks are listed, so an attempt whose answer was
lost never leaves two.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import psycopg

from service import json_body
from service.config.records import Config, Integrations, VercelIntegration
from service.integrations import ApiRefused, InvalidPayload, Receipt, call_api, payload_text, verdict_passed, verdict_summary
from service.jobs.states import TERMINAL, JobState
from service.jobs.submit import DeployRequest, NoBundle, submit_deploy
from service.jobs.submit_recovery import submit_recovery
from service.links import job_links
from service.store import repository
from service.store.repository import IntegrationReport, Job

log = logging.getLogger(__name__)

SOURCE = "vercel"
SIGNATURE_HEADER = "x-vercel-signature"
REQUESTED_BY = "vercel"
RECORDED_EVENTS = frozenset({"deployment.succeeded", "deployment.ready", "deployment.promoted", "deployment.canceled"})
# After these the deployment is over: its check is no longer reported, and none is created.
ENDING_EVENTS = frozenset({"deployment.error", "deployment.canceled"})
_COMMIT_KEYS = ("githubCommitSha", "gitlabCommitSha", "bitbucketCommitSha")
_MAX_CHECK_NAME = 100


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Is `header` the hex HMAC-SHA1 of the raw `body` with `secret`? Constant-time."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode("ascii"), header.strip().lower().encode("ascii", "replace"))


@dataclass(frozen=True)
class VercelEvent:
    id: str
    type: str
    deployment_id: str | None = None
    project_id: str | None = None
    # "production", "staging", another custom environment, or None for a preview.
    target: str | None = None
    check_id: str | None = None
    commit: str | None = None

    @property
    def deployment(self) -> str:
        """The deployment's id: every `deployment.*` event has one (parse_event checks), and only those reach a handler."""
        if self.deployment_id is None:
            raise InvalidPayload("payload.deployment.id: missing")
        return self.deployment_id


def parse_event(body: bytes) -> VercelEvent:
    """The parts of a delivery deploy-gate uses, checked against Vercel's documented shape."""
    try:
        data = json_body.loads(body)
    except ValueError:
        raise InvalidPayload("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidPayload("the body must be a JSON object")
    event = VercelEvent(id=_text(data.get("id"), "id"), type=_text(data.get("type"), "type"))
    if not event.type.startswith("deployment."):
        return event
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidPayload("payload: must be an object")
    deployment = _object(payload, "deployment")
    event = replace(event, deployment_id=_text(deployment.get("id"), "payload.deployment.id"))
    if event.type == "deployment.check-rerequested":
        return replace(event, check_id=_text(_object(payload, "check").get("id"), "payload.check.id"))
    target = payload.get("target")
    if target is not None:
        target = _text(target, "payload.target")
    meta: dict[str, Any] = deployment["meta"] if isinstance(deployment.get("meta"), dict) else {}
    commit = next((meta[key] for key in _COMMIT_KEYS if isinstance(meta.get(key), str) and meta[key]), None)
    project = payload.get("project")
    project_id = _text(project.get("id"), "payload.project.id") if isinstance(project, dict) else None
    if project_id is None and event.type in ("deployment.created", "deployment.error"):
        raise InvalidPayload("payload.project.id: missing")
    return replace(event, project_id=project_id, target=target, commit=commit[:200] if commit else None)


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise InvalidPayload(f"payload.{key}: must be an object")
    return value


def _text(value: Any, where: str) -> str:
    return payload_text(value, where, 200)


def receive(store: psycopg.Connection, config: Config, event: VercelEvent) -> Receipt:
    """Remember the delivery and act on it, in one transaction (the caller enqueues after commit)."""
    integration = config.integrations.vercel
    if integration is None:
        raise LookupError("no Vercel integration is configured")
    with store.transaction():
        if not repository.remember_delivery(store, SOURCE, event.id):
            first = repository.delivery_job(store, SOURCE, event.id)
            return Receipt(event.id, event.type, "duplicate", "this delivery was received before; nothing was done again", first)
        seen_before = repository.delivery_events(store, SOURCE, event.deployment_id) if event.deployment_id else set()
        repository.describe_delivery(store, SOURCE, event.id, event=event.type, subject=event.deployment_id)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return Receipt(event.id, event.type, "ignored", f"deploy-gate does not act on {event.type}")
        receipt = handler(store, config, integration, event, seen_before)
        if receipt.job_id and receipt.status == "accepted":
            repository.link_delivery(store, SOURCE, event.id, receipt.job_id)
    return receipt


def _mapped_target(integration: VercelIntegration, event: VercelEvent) -> str | None:
    return integration.target_for(event.project_id or "", event.target)


def _unmapped(event: VercelEvent) -> Receipt:
    detail = f"no target is configured for project {event.project_id} and Vercel target {event.target or 'preview'}"
    return Receipt(event.id, event.type, "ignored", detail)


def _not_checked(event: VercelEvent, target: str, error: NoBundle) -> Receipt:
    log.warning("vercel_not_checked", extra={"delivery": event.id, "deployment_id": event.deployment_id, "target": target})
    return Receipt(event.id, event.type, "not_checked", f"{error}; post a deploy with the migrations to check deployments of {target}")


def _created(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    target = _mapped_target(integration, event)
    if target is None:
        return _unmapped(event)
    request = DeployRequest(target=target, phase="pre", commit=event.commit, deployment_id=event.deployment_id)
    try:
        job, created = submit_deploy(store, config, request, REQUESTED_BY, f"vercel:{event.deployment_id}:created")
    except NoBundle as error:
        return _not_checked(event, target, error)
    detail = f"check job {job.id} on target {target}"
    if not created:
        return Receipt(event.id, event.type, "duplicate", f"{detail} was started for this deployment before", job.id)
    report = None
    if integration.token:
        ended = seen_before & ENDING_EVENTS
        if ended:
            detail += f"; no Vercel check, the deployment has ended ({', '.join(sorted(ended))})"
        else:
            details = {"project_id": event.project_id, "vercel_target": event.target or "preview"}
            repository.open_integration_report(store, job_id=job.id, source=SOURCE, subject=event.deployment, details=details)
            report = SOURCE
            detail += "; its verdict goes to a blocking Vercel check"
    return Receipt(event.id, event.type, "accepted", detail, job.id, run=True, report=report)


def _error(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    _abandon_checks(store, event, "the deployment failed (deployment.error)")
    _note_on_jobs(store, event)
    target = _mapped_target(integration, event)
    if target is None:
        return _unmapped(event)
    try:
        job, created = submit_recovery(store, config, target, REQUESTED_BY, key=f"vercel:{event.deployment_id}:error")
    except NoBundle as error:
        return _not_checked(event, target, error)
    if not created:
        return Receipt(event.id, event.type, "duplicate", f"recover job {job.id} was started for this deployment before", job.id)
    return Receipt(event.id, event.type, "accepted", f"recover job {job.id} on target {target}", job.id, run=True)


def _check_rerequested(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    previous = repository.latest_report_for_remote(store, SOURCE, event.check_id) if event.check_id else None
    if previous is None or previous.subject != event.deployment_id:
        return Receipt(event.id, event.type, "ignored", f"check {event.check_id} is not one of deploy-gate's")
    if previous.status == "open":
        return Receipt(event.id, event.type, "recorded", f"check job {previous.job_id} is still reporting on this check", previous.job_id)
    if not integration.token:
        return Receipt(event.id, event.type, "ignored", "no Vercel token is configured to report on the check")
    before = repository.get_job(store, previous.job_id)
    request = DeployRequest(
        target=before.target, phase=before.params.get("phase", "pre"), commit=before.params.get("commit"), deployment_id=event.deployment_id
    )
    try:
        job, created = submit_deploy(store, config, request, REQUESTED_BY, f"vercel:{event.deployment_id}:rerequested:{event.id}")
    except NoBundle as error:
        return _not_checked(event, before.target, error)
    repository.open_integration_report(
        store, job_id=job.id, source=SOURCE, subject=event.deployment_id, remote_id=event.check_id, details={**previous.details, "rerun_of": before.id}
    )
    detail = f"check job {job.id} on target {before.target}, reported on check {event.check_id}"
    return Receipt(event.id, event.type, "accepted", detail, job.id, run=created, report=SOURCE)


def _recorded(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    if event.type in ENDING_EVENTS:
        _abandon_checks(store, event, f"the deployment ended ({event.type})")
    noted = _note_on_jobs(store, event)
    return Receipt(event.id, event.type, "recorded", f"noted on {noted} job{'s' if noted != 1 else ''} of deployment {event.deployment_id}")


def _note_on_jobs(store: psycopg.Connection, event: VercelEvent) -> int:
    jobs = repository.delivery_jobs(store, SOURCE, event.deployment)
    for job_id in jobs:
        repository.record_note(store, job_id, {"webhook": SOURCE, "event": event.type, "delivery": event.id, "deployment_id": event.deployment_id})
    return len(jobs)


def _abandon_checks(store: psycopg.Connection, event: VercelEvent, reason: str) -> None:
    for report in repository.open_reports_about(store, SOURCE, event.deployment):
        repository.abandon_integration_report(store, report.job_id, SOURCE, reason=reason)


_HANDLERS = {
    "deployment.created": _created,
    "deployment.error": _error,
    "deployment.check-rerequested": _check_rerequested,
    **{name: _recorded for name in RECORDED_EVENTS},
}


class VercelClient:
    """The checks part of Vercel's REST API, on `api_url` with the integration's token."""

    def __init__(self, api_url: str, token: str, team_id: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.team_id = team_id

    def _call(self, method: str, path: str, what: str, payload: Any = None) -> Any:
        query = f"?{urlencode({'teamId': self.team_id})}" if self.team_id else ""
        headers = {"Authorization": f"Bearer {self._token}"}
        return call_api(method, f"{self.api_url}{path}{query}", what=what, headers=headers, payload=payload)

    @staticmethod
    def _checks_path(deployment_id: str) -> str:
        return f"/v1/deployments/{quote(deployment_id, safe='')}/checks"

    def find_check(self, deployment_id: str, external_id: str) -> str | None:
        found = self._call("GET", self._checks_path(deployment_id), "list the deployment's checks")
        checks = found.get("checks") if isinstance(found, dict) else None
        for check in checks or []:
            check_id = check.get("id") if isinstance(check, dict) else None
            if isinstance(check_id, str) and check.get("externalId") == external_id:
                return check_id
        return None

    def create_check(self, deployment_id: str, *, name: str, details_url: str, external_id: str) -> str:
        body = {"name": name, "blocking": True, "detailsUrl": details_url, "externalId": external_id, "rerequestable": True}
        created = self._call("POST", self._checks_path(deployment_id), "create the check", body)
        check_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(check_id, str):
            raise ApiRefused("create the check: the answer has no check id")
        return check_id

    def update_check(self, deployment_id: str, check_id: str, fields: dict[str, Any]) -> None:
        path = f"{self._checks_path(deployment_id)}/{quote(check_id, safe='')}"
        self._call("PATCH", path, f"update the check to {fields.get('status')}", fields)


def conclusion_for(job: Job) -> str:
    if job.state is JobState.CANCELED:
        return "canceled"
    return "succeeded" if verdict_passed(job) else "failed"


def sync_check(store: psycopg.Connection, integrations: Integrations, report: IntegrationReport, job: Job, keep_fresh_seconds: float) -> str:
    """Create the check if needed, then tell Vercel it runs (kept fresh) or how it ended."""
    integration = integrations.vercel
    if integration is None or not integration.token:
        raise ApiRefused("the Vercel integration or its token is no longer configured")
    client = VercelClient(integration.api_url, integration.token, integration.team_id)
    deployment_id = report.subject
    details_url = job_links(job.id, integrations.public_url, integrations.report_link_secret)["report"]
    check_id = report.remote_id
    if check_id is None:
        check_id = client.find_check(deployment_id, job.id) or client.create_check(
            deployment_id, name=integration.check_name, details_url=details_url, external_id=job.id
        )
        repository.report_progress(store, job.id, SOURCE, reported_state="registered", remote_id=check_id)
        report = replace(report, remote_id=check_id, reported_state="registered", reported_at=None)
    if job.state in TERMINAL:
        conclusion = conclusion_for(job)
        name = f"{integration.check_name}: {verdict_summary(job)}"
        if len(name) > _MAX_CHECK_NAME:
            name = name[: _MAX_CHECK_NAME - 1] + "…"
        fields = {"status": "completed", "conclusion": conclusion, "name": name, "detailsUrl": details_url, "externalId": job.id}
        client.update_check(deployment_id, check_id, fields)
        repository.report_progress(store, job.id, SOURCE, reported_state="completed", done=True)
        return f"completed: {conclusion}"
    age = (datetime.now(UTC) - report.reported_at).total_seconds() if report.reported_at else None
    if report.reported_state != "running" or age is None or age >= keep_fresh_seconds:
        fields = {"status": "running", "name": integration.check_name, "detailsUrl": details_url, "externalId": job.id}
        client.update_check(deployment_id, check_id, fields)
        repository.report_progress(store, job.id, SOURCE, reported_state="running")
        return "running"
    return "fresh"
