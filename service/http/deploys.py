"""POST /v1/deploys: a build asks for a check (or a deploy) of its migrations on a target."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from service.http.auth import require_scope
from service.http.problems import Problem
from service.http.schemas import DEPLOY_REQUEST, JOB
from service.http.store import store
from service.jobs.submit import DeployRequest, submit_deploy
from service.prisma.migrations import migrations_from_bundle

bp = Blueprint("deploys", __name__, url_prefix="/v1/deploys")


@bp.post("")
@require_scope("deploy")
def create_deploy():
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
    )
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        raise Problem(400, "Bad Request", "Idempotency-Key must be 1 to 200 printable characters.")
    extension = current_app.extensions["deploy_gate"]
    if migrations is None:
        # The target's last bundle is read, and the job stored, on this request's connection: one
        # held while waiting on the intake could leave the intake none to store with.
        job, created = submit_deploy(store(), extension.config, deploy_request, g.principal, key)
        if created:
            extension.enqueue(job.id)
    else:  # the intake stores the job and enqueues it
        job, created = submit_deploy(None, extension.config, deploy_request, g.principal, key, create=extension.intake)
    return JOB.dump(job), 202 if created else 200, {"Location": f"/v1/jobs/{job.id}"}
