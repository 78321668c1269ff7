"""Recovery over HTTP: approve or reject a waiting job, ask for recover, rollback, restore, cut-over and failover jobs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.http.auth import require_scope
from service.http.deploys import idempotency_key
from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.http.schemas import MIGRATION_NAME, NO_NUL, StrictBoolean, job_document
from service.http.store import store
from service.jobs import decisions
from service.jobs.submit_recovery import submit_cutover, submit_failover, submit_recovery, submit_restore, submit_rollback
from service.store.repository import Job

bp = Blueprint("recovery", __name__, url_prefix="/v1")

# 1-63 letters, digits or hyphens, starting with a letter, no two hyphens together, none at the end
# (without lookarounds, so that openapi.yaml can give the same pattern).
RDS_IDENTIFIER = [
    validate.Regexp(r"^[A-Za-z](?:-?[A-Za-z0-9])*$", error="an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter"),
    validate.Length(max=63),
]


class ApprovalSchema(Schema):
    class Meta:
        unknown = RAISE

    comment = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=2000), NO_NUL])


class EmptySchema(Schema):
    class Meta:
        unknown = RAISE


class RecoveryRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    apply = StrictBoolean(load_default=False)


class RollbackRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    migration = fields.String(required=True, validate=MIGRATION_NAME)


class RestoreRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    snapshot_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9:.-]{1,255}$", error="a snapshot identifier"))
    point_in_time = fields.AwareDateTime(load_default=None, allow_none=True)
    use_latest_restorable_time = StrictBoolean(load_default=False)
    new_identifier = fields.String(load_default=None, allow_none=True, validate=RDS_IDENTIFIER)

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: object) -> None:
        chosen = [bool(data["snapshot_id"]), data["point_in_time"] is not None, data["use_latest_restorable_time"]]
        if sum(chosen) != 1:
            raise ValidationError("give exactly one of snapshot_id, point_in_time, use_latest_restorable_time")


EMPTY = EmptySchema()
APPROVAL = ApprovalSchema()
RECOVERY_REQUEST = RecoveryRequestSchema()
ROLLBACK_REQUEST = RollbackRequestSchema()
RESTORE_REQUEST = RestoreRequestSchema()


def _body(schema: Schema) -> dict[str, Any]:
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "The body must be a JSON object.")
    data: dict[str, Any] = schema.load(body)
    return data


def _accepted(job: Job, created: bool) -> ResponseReturnValue:
    if created:
        deploy_gate().enqueue(job.id)
    return job_document(job), 202 if created else 200, {"Location": f"/v1/jobs/{job.id}"}


@bp.post("/jobs/<job_id>/approve")
@require_scope("approve")
def approve(job_id: str) -> ResponseReturnValue:
    comment = _body(APPROVAL)["comment"]
    return job_document(decisions.approve(store(), job_id, g.principal, comment, deploy_gate().enqueue))


@bp.post("/jobs/<job_id>/reject")
@require_scope("approve")
def reject(job_id: str) -> ResponseReturnValue:
    comment = _body(APPROVAL)["comment"]
    return job_document(decisions.reject(store(), job_id, g.principal, comment))


@bp.post("/targets/<name>/recoveries")
@require_scope("deploy")
def create_recovery(name: str) -> ResponseReturnValue:
    data = _body(RECOVERY_REQUEST)
    extension = deploy_gate()
    return _accepted(*submit_recovery(store(), extension.config, name, g.principal, apply=data["apply"], key=idempotency_key()))


@bp.post("/targets/<name>/rollbacks")
@require_scope("deploy")
def create_rollback(name: str) -> ResponseReturnValue:
    data = _body(ROLLBACK_REQUEST)
    extension = deploy_gate()
    return _accepted(*submit_rollback(store(), extension.config, name, data["migration"], g.principal, key=idempotency_key()))


@bp.post("/targets/<name>/restores")
@require_scope("deploy")
def create_restore(name: str) -> ResponseReturnValue:
    data = _body(RESTORE_REQUEST)
    params = {key: value for key, value in data.items() if value not in (None, False)}
    if "point_in_time" in params:
        params["point_in_time"] = params["point_in_time"].isoformat()
    extension = deploy_gate()
    return _accepted(*submit_restore(store(), extension.config, name, params, g.principal, key=idempotency_key()))


@bp.post("/jobs/<job_id>/cutover")
@require_scope("deploy")
def create_cutover(job_id: str) -> ResponseReturnValue:
    _body(EMPTY)
    extension = deploy_gate()
    return _accepted(*submit_cutover(store(), extension.config, job_id, g.principal, key=idempotency_key()))


@bp.post("/targets/<name>/failovers")
@require_scope("deploy")
def create_failover(name: str) -> ResponseReturnValue:
    _body(EMPTY)
    extension = deploy_gate()
    return _accepted(*submit_failover(store(), extension.config, name, g.principal, key=idempotency_key()))
