"""Vercel Checks v2: one check per project, and a check run per deployment carrying its check job's verdict.

Shapes from Vercel's REST reference ("Checks v2") and the `@vercel/sdk` models
(`createprojectcheckop.ts`, `updateprojectcheckop.ts`, `createdeploymentcheckrunop.ts`,
`updatedeploymentcheckrunop.ts`, `listdeploymentcheckrunsop.ts`):

- **The check** (`ensure_check`): `POST /v2/projects/{idOrName}/checks` with `name`, `requires`,
  `blocks`, `targets`, `timeout` (seconds), `isRerequestable` and `source`. It is made on first
  use (the first report on one of the project's deployments) and remembered in the store with the definition it was given: later uses make no call, a
  check of the same name already on the project is taken rather than duplicated, and a changed
  configuration is sent to it with `PATCH /v2/projects/{idOrName}/checks/{checkId}` (the source
  cannot be changed). `requires` is `none`: a migration check needs nothing of the deployment, so
  Vercel can start the run at once. `source` is the account webhook that calls deploy-gate
  (`webhook_id`, with an access token) or else the integration whose token is configured.
- **Runs** (`sync_runs`): Vercel makes a run of the check on each deployment of its targets and
  announces it (`deployment.checkrun.start`, see `service.integrations.vercel`). The deployment's
  check job reports on every run it holds: `PATCH /v2/deployments/{id}/check-runs/{runId}` with
  `status: running`, `externalId` (the job id) and `externalUrl` (the job's report) once, then
  `status: completed` with `conclusion` (`succeeded` for proceed, `failed` for blocked or a job that
  could not finish, `canceled`) and `conclusionText` (how it ended and its first reason). A run
  does not go stale as a v1 check did: it ends at the check's `timeout`. When no run is announced
  within `check_run_wait_seconds` of the report's opening, the deployment's runs are listed and
  one of the check's taken, or one is made (`POST /v2/deployments/{id}/check-runs` with
  `checkId`); listing first means an attempt whose answer was lost never leaves two.
- **Runs no job carries** (`sync_jobless_run`): a deployment deploy-gate cannot check (no
  migrations stored for its target, or no deployment.created received within the wait) has its
  runs concluded `skipped`, with the reason, rather than left to block it until the timeout.

`output`: the SDK's request model for it is an empty object (`Output = {}`, whose schema drops
every key), so nothing is sent in it; the outcome goes in `conclusionText`, the details behind
`externalUrl`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from service.config.records import Config, VercelIntegration
from service.integrations import GIVE_UP_AFTER, ApiRefused, ApiUnavailable, RetryLater, retry_delay, verdict_summary
from service.integrations.vercel_api import SOURCE, VercelApi, conclusion_for, segment, shortened
from service.jobs.states import TERMINAL
from service.store import repository
from service.store.repository import IntegrationReport, Job

log = logging.getLogger(__name__)

REQUIRES = "none"
# The fields of a found check that deploy-gate brings to its configuration. Not `source` (PATCH
# cannot change it) nor `requires` (the update model takes only build-ready or deployment-url):
# a check found with another `requires` keeps it, and Vercel starts its runs at that stage.
_UPDATABLE = ("isRerequestable", "blocks", "targets", "timeout")
# Vercel documents no limit for conclusionText; short enough to read in its dashboard.
MAX_CONCLUSION_TEXT = 300
NO_DEPLOYMENT_CREATED = "deploy-gate received no deployment.created for this deployment, so no job checks it"


class ChecksV2(VercelApi):
    """A project's checks and a deployment's check runs."""

    def list_checks(self, project_id: str) -> list[dict[str, Any]]:
        found = self.call("GET", f"/v2/projects/{segment(project_id)}/checks", "list the project's checks")
        return _objects(found, "checks")

    def create_check(self, project_id: str, definition: dict[str, Any]) -> str:
        created = self.call("POST", f"/v2/projects/{segment(project_id)}/checks", "create the project's check", definition)
        return _id(created, "create the project's check")

    def update_check(self, project_id: str, check_id: str, fields: dict[str, Any]) -> None:
        self.call("PATCH", f"/v2/projects/{segment(project_id)}/checks/{segment(check_id)}", "update the project's check", fields)

    def list_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        found = self.call("GET", f"/v2/deployments/{segment(deployment_id)}/check-runs", "list the deployment's check runs")
        return _objects(found, "runs")

    def create_run(self, deployment_id: str, check_id: str) -> str:
        created = self.call("POST", f"/v2/deployments/{segment(deployment_id)}/check-runs", "create a check run", {"checkId": check_id})
        return _id(created, "create a check run")

    def update_run(self, deployment_id: str, run_id: str, fields: dict[str, Any]) -> None:
        path = f"/v2/deployments/{segment(deployment_id)}/check-runs/{segment(run_id)}"
        self.call("PATCH", path, f"update check run {run_id} to {fields.get('status')}", fields)


def _objects(answer: Any, key: str) -> list[dict[str, Any]]:
    items = answer.get(key) if isinstance(answer, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _id(answer: Any, what: str) -> str:
    value = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise ApiRefused(f"{what}: the answer has no id")
    return value


def client_for(integration: VercelIntegration) -> ChecksV2:
    if not integration.token:
        raise ApiRefused("the Vercel integration has no token configured any more")
    return ChecksV2(integration.api_url, integration.token, integration.team_id)


def check_definition(integration: VercelIntegration, project_id: str) -> dict[str, Any]:
    """The check deploy-gate wants on the project, as the create call's body."""
    project = integration.projects.get(project_id)
    if project is None:
        raise ApiRefused(f"project {project_id} is no longer configured in integrations.vercel.projects")
    source: dict[str, Any] = {"kind": "webhook", "webhookId": integration.webhook_id} if integration.webhook_id else {"kind": "integration"}
    return {
        "name": integration.check_name,
        "requires": REQUIRES,
        "blocks": project.blocks,
        "targets": sorted(project.targets),
        "timeout": integration.check_timeout_seconds,
        "isRerequestable": True,
        "source": source,
    }


def ensure_check(store: psycopg.Connection, client: ChecksV2, integration: VercelIntegration, project_id: str) -> str:
    """The id of deploy-gate's check on the project: remembered, found by name, or created; updated when the configuration changed."""
    definition = check_definition(integration, project_id)
    stored = repository.stored_check(store, project_id)
    if stored is not None and stored.definition == definition:
        return stored.check_id
    # Only now, for the calls below: the lock is held to the end of the report's transaction.
    repository.lock_project_check(store, project_id)
    stored = repository.stored_check(store, project_id)
    if stored is not None and stored.definition == definition:
        return stored.check_id
    existing = next((check for check in client.list_checks(project_id) if check.get("name") == definition["name"] and isinstance(check.get("id"), str)), None)
    if existing is None:
        check_id = client.create_check(project_id, definition)
        log.info("vercel_check_created", extra={"project_id": project_id, "check_id": check_id, "blocks": definition["blocks"]})
    else:
        check_id = existing["id"]
        changes = {key: definition[key] for key in _UPDATABLE if _comparable(existing.get(key)) != _comparable(definition[key])}
        if changes:
            client.update_check(project_id, check_id, changes)
            log.info("vercel_check_updated", extra={"project_id": project_id, "check_id": check_id, "changed": sorted(changes)})
    repository.remember_check(store, project_id, check_id, definition)
    return check_id


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def _find_or_create_run(store: psycopg.Connection, client: ChecksV2, deployment_id: str, check_id: str) -> tuple[str, str]:
    """A run of the check on the deployment that no job holds yet: one Vercel made (or an earlier, lost create), else a new one."""
    for run in client.list_runs(deployment_id):
        run_id = run.get("id")
        ours = run.get("checkId") == check_id and run.get("status") != "completed"
        if ours and isinstance(run_id, str) and run_id and repository.get_check_run(store, run_id) is None:
            return run_id, "found"
    return client.create_run(deployment_id, check_id), "created"


def sync_runs(store: psycopg.Connection, integration: VercelIntegration, report: IntegrationReport, job: Job, details_url: str) -> str:
    """Take the job's report one step: wait for a run, find or make one, tell each run it runs or how the job ended."""
    client = client_for(integration)
    deployment_id = report.subject
    project_id = str(report.details.get("project_id", ""))
    # On first use the check is made: from then on Vercel runs it on the project's deployments.
    check_id = ensure_check(store, client, integration, project_id)
    for foreign in repository.runs_of_job(store, job.id):
        if foreign.status == "open" and foreign.check_id != check_id:
            repository.close_check_run(store, foreign.run_id, "abandoned", reason=f"a run of check {foreign.check_id}, not of deploy-gate's check {check_id}")
    runs = [run for run in repository.runs_of_job(store, job.id) if run.check_id == check_id]
    if not runs:
        due = report.created_at + timedelta(seconds=integration.check_run_wait_seconds)
        if datetime.now(UTC) < due:
            repository.defer_integration_report(store, job.id, SOURCE, until=due)
            return "waiting for Vercel to announce the check run"
        try:
            run_id, origin = _find_or_create_run(store, client, deployment_id, check_id)
        except ApiRefused:
            # Perhaps the check was deleted in Vercel: the next report finds or creates it again.
            repository.forget_check(store, project_id)
            raise
        repository.add_check_run(store, run_id=run_id, deployment_id=deployment_id, check_id=check_id, origin=origin, job_id=job.id)
        log.info("vercel_check_run_taken", extra={"job_id": job.id, "deployment_id": deployment_id, "run_id": run_id, "origin": origin})
        runs = [run for run in repository.runs_of_job(store, job.id) if run.check_id == check_id]
    ended = job.state in TERMINAL
    conclusion = conclusion_for(job) if ended else None
    told = 0
    for run in runs:
        if run.status != "open":
            continue
        fields: dict[str, Any] = {"status": "running", "externalId": job.id, "externalUrl": details_url}
        if conclusion is not None:
            fields.update(status="completed", conclusion=conclusion, conclusionText=shortened(verdict_summary(job), MAX_CONCLUSION_TEXT))
        elif run.reported_state == "running":
            continue
        client.update_run(deployment_id, run.run_id, fields)
        repository.run_reported(store, run.run_id, state=fields["status"], conclusion=conclusion)
        told += 1
    first = runs[0].run_id
    if ended and all(run.status != "open" for run in repository.runs_of_job(store, job.id)):
        repository.report_progress(store, job.id, SOURCE, reported_state="completed", remote_id=first, done=True)
        return f"completed: {conclusion}"
    if told or report.remote_id is None:
        repository.report_progress(store, job.id, SOURCE, reported_state="running", remote_id=first)
        return "running"
    return "fresh"


def sync_jobless_run(store: psycopg.Connection, config: Config, run_id: str) -> str:
    """Conclude a run no job carries `skipped`, with the reason (or wait for deployment.created a while). Failures as `sync_report`'s."""
    failure: RetryLater | None = None
    with store.transaction():
        run = repository.lock_jobless_run(store, run_id)
        if run is None:
            return "nothing to do"
        integration = config.integrations.vercel
        if integration is None or not integration.token or integration.checks_api != "v2":
            repository.close_check_run(store, run_id, "abandoned", reason="the Vercel integration, its token or checks_api = v2 is no longer configured")
            return "abandoned"
        reason = run.skip_reason
        if reason is None:
            due = run.created_at + timedelta(seconds=integration.check_run_wait_seconds)
            if datetime.now(UTC) < due:
                repository.defer_jobless_run(store, run_id, until=due)
                return "waiting for deployment.created"
            reason = NO_DEPLOYMENT_CREATED
        fields = {"status": "completed", "conclusion": "skipped", "conclusionText": shortened(reason, MAX_CONCLUSION_TEXT)}
        try:
            client_for(integration).update_run(run.deployment_id, run_id, fields)
        except ApiRefused as error:
            repository.close_check_run(store, run_id, "abandoned", reason=str(error))
            log.warning("vercel_check_run_abandoned", extra={"run_id": run_id, "error": str(error)})
            return "abandoned"
        except ApiUnavailable as error:
            if run.created_at < datetime.now(UTC) - GIVE_UP_AFTER:
                repository.close_check_run(store, run_id, "abandoned", reason=f"gave up after a day: {error}")
                return "abandoned"
            delay = retry_delay(run.attempts, error.retry_after)
            repository.jobless_run_failed(store, run_id, error=str(error), retry_in_seconds=delay)
            failure = RetryLater(str(error), delay)
        else:
            repository.run_reported(store, run_id, state="completed", conclusion="skipped")
            log.info("vercel_check_run_skipped", extra={"run_id": run_id, "deployment_id": run.deployment_id, "reason": reason})
            return "skipped"
    assert failure is not None
    raise failure
