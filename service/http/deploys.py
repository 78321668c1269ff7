"""POST /v1/deploys: a build asks for a check (or a deploy) of its migrations on a target."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from service.http.auth import require_scope
from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.http.schemas import DEPLOY_REQUEST, IDEMPOTENCY_KEY, job_document
from service.jobs.submit import DeployRequest
from service.prisma.migrations import migrations_from_bundle

bp = Blueprint("deploys", __name__, url_prefix="/v1/deploys")


@bp.post("")
@require_scope("deploy")
def create_deploy() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "The body must be a JSON object.")
    data = DEPLOY_REQUEST.load(body)
    migrations = None
    if data["migrations"] is not None:
        lock = f'provider = "{data["lock_provider"]}"'
        migrations = migrations_from_bundle([(m["name"], m["sql"]) for m in data["migrations"]], lock)
    deploy_request = DeployRequest(
        target=data["target"],
        phase=data["phase"],
        apply=data["apply"],
        commit=data["commit"],
        deployment_id=data["deployment_id"],
        migrations=migrations,
        prisma_version=data["prisma_version"],
    )
    key = idempotency_key()
    extension = deploy_gate()
    job, created = extension.intake.submit_deploy(extension.config, deploy_request, g.principal, key)
    return job_document(job), 202 if created else 200, {"Location": f"/v1/jobs/{job.id}"}


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, if any: 400 unless 1 to 200 visible ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(400, "Bad Request", "Idempotency-Key must be 1 to 200 visible ASCII characters (no spaces).")
    return key
