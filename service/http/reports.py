"""Job reports as JSON, Markdown or HTML: a recover, rollback or restore job's runbook checklist, a check or deploy job's verdict.

Readable with a bearer token (read scope) or through a report link (`?token=`, service.links).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.http.auth import require_scope_or_report_link
from service.http.console import report_page
from service.http.problems import Problem
from service.http.store import store
from service.reports.build import build_report
from service.store import repository

bp = Blueprint("reports", __name__, url_prefix="/v1/jobs")

MARKDOWN = "text/markdown"
JSON = "application/json"
HTML = "text/html"
FORMATS = {"markdown": MARKDOWN, "json": JSON, "html": HTML}


def _wanted() -> str:
    """`?format=` first, then the Accept header; JSON unless Markdown or HTML (a browser) is preferred."""
    chosen = request.args.get("format")
    if chosen is not None:
        if chosen not in FORMATS:
            raise Problem(422, "The request is not valid", "format: must be one of markdown, json, html.")
        return FORMATS[chosen]
    return request.accept_mimetypes.best_match([JSON, MARKDOWN, HTML], default=JSON) or JSON


@bp.get("/<job_id>/report")
@require_scope_or_report_link("read")
def get_report(job_id: str) -> Response:
    wanted = _wanted()
    job, events = repository.job_with_journal(store(), job_id)
    report = build_report(job, events)
    if wanted == HTML:
        response = report_page(report.to_markdown())
    elif wanted == MARKDOWN:
        response = Response(report.to_markdown(), mimetype=MARKDOWN)
    else:
        response = jsonify(report.to_dict())
    response.vary.add("Accept")
    # A report link carries its token in the URL: kept out of shared caches and Referer headers.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
