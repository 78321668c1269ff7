"""Incident reports: a recover, rollback or restore job's runbook checklist, as JSON or Markdown."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.http.auth import require_scope
from service.http.problems import Problem
from service.http.store import store
from service.recovery.report import REPORTED_KINDS, build_report
from service.store import repository

bp = Blueprint("reports", __name__, url_prefix="/v1/jobs")

MARKDOWN = "text/markdown"
JSON = "application/json"
FORMATS = {"markdown": MARKDOWN, "json": JSON}


def _wanted() -> str:
    """`?format=` first, then the Accept header; JSON unless Markdown is asked for."""
    chosen = request.args.get("format")
    if chosen is not None:
        if chosen not in FORMATS:
            raise Problem(422, "The request is not valid", "format: must be one of markdown, json.")
        return FORMATS[chosen]
    return request.accept_mimetypes.best_match([JSON, MARKDOWN], default=JSON) or JSON


@bp.get("/<job_id>/report")
@require_scope("read")
def get_report(job_id: str):
    wanted = _wanted()
    job = repository.get_job(store(), job_id)
    if job.kind not in REPORTED_KINDS:
        detail = f"{job.kind.value} jobs have no incident report; recover, rollback and restore jobs do."
        recovery = (repository.finished_steps(store(), job.id).get("recover") or {}).get("job")
        if recovery:
            detail += f" This deploy's failure was handled by recover job {recovery}: see /v1/jobs/{recovery}/report."
        raise Problem(422, "No incident report for this job", detail)
    report = build_report(job, repository.job_events(store(), job.id))
    if wanted == MARKDOWN:
        response = Response(report.to_markdown(), mimetype=MARKDOWN)
    else:
        response = jsonify(report.to_dict())
    response.vary.add("Accept")
    return response
