"""Targets: the configured ones, the latest check of one, and a new check on demand."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from service.config.records import Target
from service.http.auth import require_scope
from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.http.schemas import CHECK_REQUEST, job_document
from service.http.store import store
from service.jobs.submit import UnknownTarget, submit_check
from service.store import repository

bp = Blueprint("targets", __name__, url_prefix="/v1/targets")


def _target(name: str) -> Target:
    target = deploy_gate().config.targets.get(name)
    if target is None:
        raise UnknownTarget(name)
    return target


@bp.get("")
@require_scope("read")
def list_targets() -> ResponseReturnValue:
    targets = deploy_gate().config.targets.values()
    return {
        "targets": [
            {
                "name": target.name,
                "database": target.database.display,
                "policy": vars(target.policy),
                "rds": vars(target.rds) if target.rds else None,
                "has_shadow": target.shadow is not None,
                "drift": {"mode": target.drift.mode.value, "ignore": list(target.drift.ignore), "schedule_minutes": target.drift.schedule_minutes},
            }
            for target in targets
        ]
    }


@bp.get("/<name>/status")
@require_scope("read")
def target_status(name: str) -> ResponseReturnValue:
    _target(name)
    latest = repository.latest_check(store(), name)
    if latest is None:
        raise Problem(404, "No check yet", f"Target {name} has not been checked; POST /v1/targets/{name}/checks.")
    return {"target": name, "job": job_document(latest), "status": latest.facts["status"]}


@bp.post("/<name>/checks")
@require_scope("deploy")
def create_check(name: str) -> ResponseReturnValue:
    _target(name)
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "The body must be a JSON object.")
    data = CHECK_REQUEST.load(body)
    extension = deploy_gate()
    job = submit_check(store(), extension.config, name, g.principal, data["phase"])
    extension.enqueue(job.id)
    return job_document(job), 202, {"Location": f"/v1/jobs/{job.id}"}
