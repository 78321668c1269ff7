"""Vercel's deprecated v1 checks API, kept behind `[integrations.vercel] checks_api = "v1"`.

Vercel's REST reference marks `/v1/deployments/{id}/checks` deprecated, and its POST and PATCH
answer 400 to a token that is not an OAuth2 integration's. With v1 deploy-gate creates a blocking
check on each deployment it checks: `POST /v1/deployments/{id}/checks` `{name, blocking: true,
detailsUrl, externalId, rerequestable: true}`, then `PATCH .../checks/{checkId}` with `status:
running` (again every KEEP_FRESH_SECONDS while the job runs, since Vercel marks a running check
stale after five minutes), and finally `status: completed` with `conclusion` `succeeded` (verdict
proceed), `failed` (blocked, or the job could not finish) or `canceled`. The v1 `output` field takes
web-vitals metrics only, so the short outcome goes in the completed check's name (`deploy-gate:
blocked: ...`, at most 100 characters) and the details behind `detailsUrl`, the job's report (with
its token when report links are signed, see `service.links`). `externalId` is the job id: before
creating a check, the deployment's checks are listed, so an attempt whose answer was lost never
leaves two. A re-requested check (`deployment.check-rerequested`) is reported again by a new job.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from service.config.records import VercelIntegration
from service.integrations import ApiRefused, verdict_summary
from service.integrations.vercel_api import SOURCE, VercelApi, conclusion_for, segment, shortened
from service.jobs.states import TERMINAL
from service.store import repository
from service.store.repository import IntegrationReport, Job

MAX_CHECK_NAME = 100


class ChecksV1(VercelApi):
    """The v1 checks of a deployment: list, create, update."""

    @staticmethod
    def _checks_path(deployment_id: str) -> str:
        return f"/v1/deployments/{segment(deployment_id)}/checks"

    def find_check(self, deployment_id: str, external_id: str) -> str | None:
        found = self.call("GET", self._checks_path(deployment_id), "list the deployment's checks")
        checks = found.get("checks") if isinstance(found, dict) else None
        for check in checks or []:
            check_id = check.get("id") if isinstance(check, dict) else None
            if isinstance(check_id, str) and check.get("externalId") == external_id:
                return check_id
        return None

    def create_check(self, deployment_id: str, *, name: str, details_url: str, external_id: str) -> str:
        body = {"name": name, "blocking": True, "detailsUrl": details_url, "externalId": external_id, "rerequestable": True}
        created = self.call("POST", self._checks_path(deployment_id), "create the check", body)
        check_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(check_id, str):
            raise ApiRefused("create the check: the answer has no check id")
        return check_id

    def update_check(self, deployment_id: str, check_id: str, fields: dict[str, Any]) -> None:
        path = f"{self._checks_path(deployment_id)}/{segment(check_id)}"
        self.call("PATCH", path, f"update the check to {fields.get('status')}", fields)


def sync_check(
    store: psycopg.Connection, integration: VercelIntegration, report: IntegrationReport, job: Job, details_url: str, keep_fresh_seconds: float
) -> str:
    """Create the check if needed, then tell Vercel it runs (kept fresh) or how it ended."""
    assert integration.token is not None, "the caller checked the token"
    client = ChecksV1(integration.api_url, integration.token, integration.team_id)
    deployment_id = report.subject
    check_id = report.remote_id
    if check_id is None:
        check_id = client.find_check(deployment_id, job.id) or client.create_check(
            deployment_id, name=integration.check_name, details_url=details_url, external_id=job.id
        )
        repository.report_progress(store, job.id, SOURCE, reported_state="registered", remote_id=check_id)
        report = replace(report, remote_id=check_id, reported_state="registered", reported_at=None)
    if job.state in TERMINAL:
        conclusion = conclusion_for(job)
        name = shortened(f"{integration.check_name}: {verdict_summary(job)}", MAX_CHECK_NAME)
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
