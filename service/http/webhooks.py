"""POST /v1/webhooks/vercel and /v1/webhooks/github: authenticated by the platform's signature.

A view verifies the signature over the raw body (401 and nothing stored when it does not match),
parses the delivery (400), hands it to `service.integrations` (which stores and de-duplicates it in
one transaction) and, after commit, enqueues the job and the first sync of its report. It never
waits on a platform or a database other than the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from service.config.records import GitHubIntegration, VercelIntegration
from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.http.store import store
from service.integrations import Receipt, github, vercel

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")

Integration = TypeVar("Integration", VercelIntegration, GitHubIntegration)

# app.extensions key of the callable (job id, source) that starts syncing a new report; tests replace it.
REPORT_SYNC = "deploy_gate_report_sync"


def send_report_sync(job_id: str, source: str) -> None:
    """Put the report's first sync on the broker (Celery's client, imported only when a report needs it)."""
    from workers.celery_app import celery
    from workers.integrations import PUBLISH_RETRY, SYNC_REPORT_TASK

    celery.send_task(SYNC_REPORT_TASK, args=[job_id, source], retry=True, retry_policy=PUBLISH_RETRY)


class SigningPlatform(Protocol):
    """What a platform's module (`service.integrations.vercel`, `.github`) offers to check a delivery's signature."""

    SIGNATURE_HEADER: str

    def verify_signature(self, secret: str, body: bytes, header: str | None) -> bool: ...


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(REPORT_SYNC, send_report_sync)


@bp.post("/vercel")
def vercel_webhook() -> ResponseReturnValue:
    config = deploy_gate().config
    integration = _configured(config.integrations.vercel, "Vercel")
    body = _signed_body(integration, vercel)
    return _answer(vercel.receive(store(), config, vercel.parse_event(body)))


@bp.post("/github")
def github_webhook() -> ResponseReturnValue:
    config = deploy_gate().config
    integration = _configured(config.integrations.github, "GitHub")
    body = _signed_body(integration, github)
    delivery = github.parse_delivery(integration, request.headers.get(github.DELIVERY_HEADER), request.headers.get(github.EVENT_HEADER), body)
    return _answer(github.receive(store(), config, delivery))


def _configured(integration: Integration | None, name: str) -> Integration:
    if integration is None:
        raise Problem(404, "Not Found", f"No {name} integration is configured.")
    return integration


def _signed_body(integration: VercelIntegration | GitHubIntegration, platform: SigningPlatform) -> bytes:
    """The raw body, once the platform's signature header is found to sign it with the configured secret."""
    body = request.get_data()
    if not platform.verify_signature(integration.webhook_secret, body, request.headers.get(platform.SIGNATURE_HEADER)):
        raise Problem(401, "Unauthorized", f"{platform.SIGNATURE_HEADER} is missing or does not sign this body.")
    return body


def _answer(receipt: Receipt) -> ResponseReturnValue:
    job_id = receipt.job_id
    if receipt.run or receipt.report:
        assert job_id is not None, "a receipt that queues a job or opens its report names the job"
        if receipt.run:
            deploy_gate().enqueue(job_id)
        if receipt.report:
            sync: Callable[[str, str], None] = current_app.extensions[REPORT_SYNC]
            try:
                sync(job_id, receipt.report)
            except Exception as error:  # noqa: BLE001 - the beat task syncs it soon anyway
                log.warning("could not enqueue the first sync of job %s's %s report (%s); the beat task will", job_id, receipt.report, type(error).__name__)
    return receipt.to_dict(), 202 if receipt.status == "accepted" else 200
