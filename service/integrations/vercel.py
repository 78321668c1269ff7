"""Vercel: deployment webhooks start jobs; a blocking check carries each check job's verdict.

Webhooks (Vercel's "Webhooks API Reference"): `x-vercel-signature` is the hex HMAC-SHA1 of the raw
body with the webhook secret. The body is `{id, type, createdAt, region, payload}`; `id` is the
delivery's id (Vercel retries a delivery for up to a day), and the payload carries
`deployment.id`, `deployment.meta` (`githubCommitSha`, ...), `project.id`, `target` (`production`,
`staging`, or null for a preview) and, for a check run, `checkRun.id` and `checkRun.checkId`
(the shape of Vercel's own example integration, vercel/example-marketplace-integration
`lib/vercel/schemas.ts`; the reference lists the events but not their payload).

| event | what deploy-gate does |
| --- | --- |
| `deployment.created` | a `check` job (phase `pre`) on the target of the project and Vercel target; with a token, the job's verdict goes to the deployment's check run (v2) or a check it creates (v1) |
| `deployment.checkrun.start` (v2) | the deployment's check job reports on that run; a run that concluded before (a rerequest) gets a new check job |
| `deployment.checkrun.cancel` (v2) | the run is no longer reported (the job's report ends with its last run) |
| `deployment.check-rerequested` (v1) | the check's job again as a new job, reported on the same check |
| `deployment.error` | a `recover` job on that target; the deployment's open checks and runs are no longer reported |
| `deployment.succeeded`, `.ready`, `.promoted`, `.canceled` | recorded, and noted on each job of the deployment (canceled: its checks and runs are no longer reported) |
| anything else | acknowledged and ignored |

Deliveries arrive in any order. A run announced before its deployment.created waits for it: the
job made then takes the run. A deployment no job can check (no migrations stored for its target,
no target configured) gets no job: the delivery is acknowledged `not_checked` (and logged), and
with v2 its runs are concluded `skipped` with the reason, so the deployment goes on unchecked: a
check that blocks every deployment of a project until its first bundle arrives would hold up the
very deploy that posts it.

The checks themselves: `service.integrations.vercel_checks_v2` (the default) and `.vercel_checks_v1`
(deprecated, behind `checks_api = "v1"`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from service import json_body
from service.config.records import Config, Integrations, VercelIntegration
from service.integrations import ApiRefused, InvalidPayload, Receipt, payload_text, vercel_checks_v1, vercel_checks_v2
from service.integrations.vercel_api import SOURCE
from service.jobs.submit import DeployRequest, NoBundle, submit_deploy
from service.jobs.submit_recovery import submit_recovery
from service.links import job_links
from service.store import repository
from service.store.repository import IntegrationReport, Job

log = logging.getLogger(__name__)

__all__ = ["SOURCE", "SIGNATURE_HEADER", "VercelEvent", "parse_event", "receive", "signature", "sync_check", "verify_signature"]

SIGNATURE_HEADER = "x-vercel-signature"
REQUESTED_BY = "vercel"
RECORDED_EVENTS = frozenset({"deployment.succeeded", "deployment.ready", "deployment.promoted", "deployment.canceled"})
# After these the deployment is over: its checks and runs are no longer reported, and none is made.
ENDING_EVENTS = frozenset({"deployment.error", "deployment.canceled"})
RUN_STARTED = "deployment.checkrun.start"
RUN_CANCELED = "deployment.checkrun.cancel"
REREQUESTED_V1 = "deployment.check-rerequested"
_COMMIT_KEYS = ("githubCommitSha", "gitlabCommitSha", "bitbucketCommitSha")
NOT_CHECKED_REASON = "deploy-gate made no check job for this deployment (no migrations stored for its target, or no target configured for it)"


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
    # v1: the re-requested check.
    check_id: str | None = None
    commit: str | None = None
    # v2: the announced or canceled check run, and the check it is a run of.
    run_id: str | None = None
    run_check_id: str | None = None

    @property
    def deployment(self) -> str:
        """The deployment's id: every `deployment.*` event has one (parse_event checks), and only those reach a handler."""
        if self.deployment_id is None:
            raise InvalidPayload("payload.deployment.id: missing")
        return self.deployment_id

    @property
    def run(self) -> str:
        """The check run's id: every `deployment.checkrun.*` event has one (parse_event checks)."""
        if self.run_id is None:
            raise InvalidPayload("payload.checkRun.id: missing")
        return self.run_id


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
    if event.type == REREQUESTED_V1:
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
    event = replace(event, project_id=project_id, target=target, commit=commit[:200] if commit else None)
    if event.type in (RUN_STARTED, RUN_CANCELED):
        run = _object(payload, "checkRun")
        event = replace(event, run_id=_text(run.get("id"), "payload.checkRun.id"), run_check_id=_text(run.get("checkId"), "payload.checkRun.checkId"))
    return event


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise InvalidPayload(f"payload.{key}: must be an object")
    return value


def _text(value: Any, where: str) -> str:
    return payload_text(value, where, 200)


Handler = Callable[[psycopg.Connection, Config, VercelIntegration, VercelEvent, set[str]], Receipt]


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
        handler = _HANDLERS[integration.checks_api].get(event.type)
        if handler is None:
            detail = f"deploy-gate does not act on {event.type}"
            if event.type in _HANDLERS["v1"] or event.type in _HANDLERS["v2"]:
                detail += f" with Vercel's checks API {integration.checks_api} (integrations.vercel.checks_api)"
            return Receipt(event.id, event.type, "ignored", detail)
        receipt = handler(store, config, integration, event, seen_before)
        if receipt.job_id and receipt.status == "accepted":
            repository.link_delivery(store, SOURCE, event.id, receipt.job_id)
    return receipt


def _mapped_target(integration: VercelIntegration, event: VercelEvent) -> str | None:
    return integration.target_for(event.project_id or "", event.target)


def _unmapped(store: psycopg.Connection, integration: VercelIntegration, event: VercelEvent) -> Receipt:
    detail = f"no target is configured for project {event.project_id} and Vercel target {event.target or 'preview'}"
    _skip_waiting_runs(store, integration, event, detail)
    return Receipt(event.id, event.type, "ignored", detail)


def _not_checked(store: psycopg.Connection, integration: VercelIntegration, event: VercelEvent, target: str, error: NoBundle) -> Receipt:
    log.warning("vercel_not_checked", extra={"delivery": event.id, "deployment_id": event.deployment_id, "target": target})
    detail = f"{error}; post a deploy with the migrations to check deployments of {target}"
    _skip_waiting_runs(store, integration, event, detail)
    return Receipt(event.id, event.type, "not_checked", detail)


def _skip_waiting_runs(store: psycopg.Connection, integration: VercelIntegration, event: VercelEvent, reason: str) -> None:
    """v2: runs announced before deployment.created that no job will take are concluded `skipped` (by the beat task)."""
    if integration.checks_api == "v2" and event.type == "deployment.created":
        repository.skip_check_runs(store, event.deployment, reason)


def _created(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    target = _mapped_target(integration, event)
    if target is None:
        return _unmapped(store, integration, event)
    request = DeployRequest(target=target, phase="pre", commit=event.commit, deployment_id=event.deployment_id)
    try:
        job, created = submit_deploy(store, config, request, REQUESTED_BY, f"vercel:{event.deployment_id}:created")
    except NoBundle as error:
        return _not_checked(store, integration, event, target, error)
    detail = f"check job {job.id} on target {target}"
    if not created:
        return Receipt(event.id, event.type, "duplicate", f"{detail} was started for this deployment before", job.id)
    report = None
    if integration.token:
        ended = seen_before & ENDING_EVENTS
        if ended:
            detail += f"; no Vercel check, the deployment has ended ({', '.join(sorted(ended))})"
        else:
            details = {"project_id": event.project_id, "vercel_target": event.target or "preview", "checks_api": integration.checks_api}
            repository.open_integration_report(store, job_id=job.id, source=SOURCE, subject=event.deployment, details=details)
            report = SOURCE
            if integration.checks_api == "v2":
                repository.claim_check_runs(store, event.deployment, job.id)
                detail += f"; its verdict goes to the deployment's run of the Vercel check {integration.check_name}"
            else:
                detail += "; its verdict goes to a blocking Vercel check"
    return Receipt(event.id, event.type, "accepted", detail, job.id, run=True, report=report)


def _error(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    _stop_reporting(store, event, "the deployment failed (deployment.error)")
    _note_on_jobs(store, event)
    target = _mapped_target(integration, event)
    if target is None:
        return _unmapped(store, integration, event)
    try:
        job, created = submit_recovery(store, config, target, REQUESTED_BY, key=f"vercel:{event.deployment_id}:error")
    except NoBundle as error:
        return _not_checked(store, integration, event, target, error)
    if not created:
        return Receipt(event.id, event.type, "duplicate", f"recover job {job.id} was started for this deployment before", job.id)
    return Receipt(event.id, event.type, "accepted", f"recover job {job.id} on target {target}", job.id, run=True)


def _rerun(store: psycopg.Connection, config: Config, event: VercelEvent, before: Job, key: str) -> tuple[Job, bool]:
    """The check job `before` again, as a new job (NoBundle when its target has no bundle any more)."""
    request = DeployRequest(
        target=before.target, phase=before.params.get("phase", "pre"), commit=before.params.get("commit"), deployment_id=event.deployment_id
    )
    return submit_deploy(store, config, request, REQUESTED_BY, key)


def _check_rerequested(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    previous = repository.latest_report_for_remote(store, SOURCE, event.check_id) if event.check_id else None
    if previous is None or previous.subject != event.deployment_id:
        return Receipt(event.id, event.type, "ignored", f"check {event.check_id} is not one of deploy-gate's")
    if previous.status == "open":
        return Receipt(event.id, event.type, "recorded", f"check job {previous.job_id} is still reporting on this check", previous.job_id)
    if not integration.token:
        return Receipt(event.id, event.type, "ignored", "no Vercel token is configured to report on the check")
    before = repository.get_job(store, previous.job_id)
    try:
        job, created = _rerun(store, config, event, before, f"vercel:{event.deployment_id}:rerequested:{event.id}")
    except NoBundle as error:
        return _not_checked(store, integration, event, before.target, error)
    repository.open_integration_report(
        store, job_id=job.id, source=SOURCE, subject=event.deployment, remote_id=event.check_id, details={**previous.details, "rerun_of": before.id}
    )
    detail = f"check job {job.id} on target {before.target}, reported on check {event.check_id}"
    return Receipt(event.id, event.type, "accepted", detail, job.id, run=created, report=SOURCE)


def _run_started(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    run_id = event.run
    if not integration.token:
        return Receipt(event.id, event.type, "ignored", "no Vercel token is configured to report on check runs")
    stored = repository.stored_check(store, event.project_id) if event.project_id else None
    if stored is not None and event.run_check_id != stored.check_id:
        return Receipt(
            event.id, event.type, "ignored", f"check run {run_id} is a run of check {event.run_check_id}, not of deploy-gate's check {stored.check_id}"
        )
    ended = seen_before & ENDING_EVENTS
    if ended:
        return Receipt(event.id, event.type, "ignored", f"the deployment has ended ({', '.join(sorted(ended))}); check run {run_id} is not reported")
    known = repository.get_check_run(store, run_id)
    report = repository.latest_report_about(store, SOURCE, event.deployment)
    if known is not None and known.status == "open":
        if known.job_id is None:
            return Receipt(event.id, event.type, "recorded", f"check run {run_id} waits for the deployment's check job")
        return Receipt(event.id, event.type, "recorded", f"check job {known.job_id} reports on check run {run_id}", known.job_id, report=SOURCE)
    if report is not None and report.status == "open":
        if known is not None:
            repository.reassign_check_run(store, run_id, job_id=report.job_id)
        else:
            _add_announced(store, event, job_id=report.job_id)
        return Receipt(event.id, event.type, "recorded", f"check job {report.job_id} reports on check run {run_id}", report.job_id, report=SOURCE)
    if report is not None:
        # The run concluded before (a rerequest), or a new run came after the job's verdict was given.
        return _rerequested_run(store, config, event, report, known is not None)
    if known is not None or "deployment.created" in seen_before:
        _skip_run(store, event, known is not None, NOT_CHECKED_REASON)
        return Receipt(event.id, event.type, "not_checked", f"check run {run_id} is concluded skipped: {NOT_CHECKED_REASON}")
    _add_announced(store, event)
    return Receipt(event.id, event.type, "recorded", f"check run {run_id} waits for the deployment's deployment.created")


def _add_announced(store: psycopg.Connection, event: VercelEvent, *, job_id: str | None = None, skip_reason: str | None = None) -> None:
    check_id = event.run_check_id or ""  # parse_event requires it for a checkrun event
    repository.add_check_run(
        store, run_id=event.run, deployment_id=event.deployment, check_id=check_id, origin="announced", job_id=job_id, skip_reason=skip_reason
    )


def _skip_run(store: psycopg.Connection, event: VercelEvent, known: bool, reason: str) -> None:
    if known:
        repository.reassign_check_run(store, event.run, job_id=None, skip_reason=reason)
    else:
        _add_announced(store, event, skip_reason=reason)


def _rerequested_run(store: psycopg.Connection, config: Config, event: VercelEvent, previous: IntegrationReport, known: bool) -> Receipt:
    before = repository.get_job(store, previous.job_id)
    try:
        job, created = _rerun(store, config, event, before, f"vercel:{event.deployment_id}:checkrun:{event.run}:{event.id}")
    except NoBundle as error:
        reason = f"{error}; post a deploy with the migrations to check deployments of {before.target}"
        _skip_run(store, event, known, reason)
        return Receipt(event.id, event.type, "not_checked", f"check run {event.run} is concluded skipped: {reason}")
    details = {**previous.details, "checks_api": "v2", "rerun_of": before.id}
    repository.open_integration_report(store, job_id=job.id, source=SOURCE, subject=event.deployment, details=details)
    if known:
        repository.reassign_check_run(store, event.run, job_id=job.id)
    else:
        _add_announced(store, event, job_id=job.id)
    detail = f"check job {job.id} on target {before.target} (again, after job {before.id}), reported on check run {event.run}"
    return Receipt(event.id, event.type, "accepted", detail, job.id, run=created, report=SOURCE)


def _run_canceled(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    run_id = event.run
    known = repository.get_check_run(store, run_id)
    if known is None:
        return Receipt(event.id, event.type, "ignored", f"check run {run_id} is not one deploy-gate reports on")
    reason = f"Vercel canceled check run {run_id} (deployment.checkrun.cancel)"
    if not repository.close_check_run(store, run_id, "canceled", reason=reason):
        return Receipt(event.id, event.type, "recorded", f"check run {run_id} was no longer reported", known.job_id)
    if known.job_id is None:
        return Receipt(event.id, event.type, "recorded", f"check run {run_id} is no longer reported")
    if not any(run.status == "open" for run in repository.runs_of_job(store, known.job_id)):
        repository.abandon_integration_report(store, known.job_id, SOURCE, reason=reason)
    return Receipt(event.id, event.type, "recorded", f"check job {known.job_id} no longer reports on check run {run_id}", known.job_id)


def _recorded(store: psycopg.Connection, config: Config, integration: VercelIntegration, event: VercelEvent, seen_before: set[str]) -> Receipt:
    if event.type in ENDING_EVENTS:
        _stop_reporting(store, event, f"the deployment ended ({event.type})")
    noted = _note_on_jobs(store, event)
    return Receipt(event.id, event.type, "recorded", f"noted on {noted} job{'s' if noted != 1 else ''} of deployment {event.deployment_id}")


def _note_on_jobs(store: psycopg.Connection, event: VercelEvent) -> int:
    jobs = repository.delivery_jobs(store, SOURCE, event.deployment)
    for job_id in jobs:
        repository.record_note(store, job_id, {"webhook": SOURCE, "event": event.type, "delivery": event.id, "deployment_id": event.deployment_id})
    return len(jobs)


def _stop_reporting(store: psycopg.Connection, event: VercelEvent, reason: str) -> None:
    for report in repository.open_reports_about(store, SOURCE, event.deployment):
        repository.abandon_integration_report(store, report.job_id, SOURCE, reason=reason)
    repository.close_deployment_runs(store, event.deployment, reason)


_COMMON: dict[str, Handler] = {"deployment.created": _created, "deployment.error": _error, **{name: _recorded for name in RECORDED_EVENTS}}
_HANDLERS: dict[str, dict[str, Handler]] = {
    "v2": {**_COMMON, RUN_STARTED: _run_started, RUN_CANCELED: _run_canceled},
    "v1": {**_COMMON, REREQUESTED_V1: _check_rerequested},
}


def sync_check(store: psycopg.Connection, integrations: Integrations, report: IntegrationReport, job: Job, keep_fresh_seconds: float) -> str:
    """Take a job's Vercel report one step, with the checks API it was opened under."""
    integration = integrations.vercel
    if integration is None or not integration.token:
        raise ApiRefused("the Vercel integration or its token is no longer configured")
    details_url = job_links(job.id, integrations.public_url, integrations.report_link_secret)["report"]
    if report.details.get("checks_api", "v1") == "v2":
        return vercel_checks_v2.sync_runs(store, integration, report, job, details_url)
    return vercel_checks_v1.sync_check(store, integration, report, job, details_url, keep_fresh_seconds)
