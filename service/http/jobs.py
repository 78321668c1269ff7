"""Jobs: read one (with long-poll), list them, cancel one."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue

from service.http.auth import require_scope
from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.http.schemas import JOB_EVENTS, JOB_LIST_QUERY, JOBS, WAIT_QUERY, job_document
from service.http.store import briefly, give_back, store
from service.jobs import decisions
from service.jobs.cache import CachedJob
from service.jobs.states import TERMINAL, JobKind, JobState
from service.jobs.watch import JobWatcher, wait_for_change
from service.store import repository
from service.store.repository import Job, JobEvent

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


def _with_events(job: Job, events: list[JobEvent]) -> dict[str, Any]:
    document = job_document(job)
    document["events"] = JOB_EVENTS.dump(events)
    return document


def _job_document(watcher: JobWatcher, job_id: str, *, cached: bool = True) -> CachedJob:
    """The job and its rendered document: the process's copy while it is current, else the store's."""
    if cached and (found := watcher.documents.get(job_id)) is not None:
        return found
    ticket = watcher.ticket()
    job, events = repository.job_with_journal(store(), job_id)
    body = current_app.json.dumps(_with_events(job, events)) + "\n"
    return watcher.documents.put(job_id, ticket, job, body.encode())


@bp.get("/<job_id>")
@require_scope("read")
def get_job(job_id: str) -> ResponseReturnValue:
    wait = WAIT_QUERY.load(request.args)
    extension = deploy_gate()
    current = _job_document(extension.watcher, job_id)
    if wait > 0 and current.job.state not in TERMINAL:
        # A parked request holds no store connection: the process's watcher wakes it, and each
        # read while waiting takes a pooled connection for that read only.
        give_back()
        read = briefly(extension.pool, lambda conn: repository.get_job(conn, job_id))
        wait_for_change(extension.watcher, read, current.job, min(wait, extension.settings.long_poll_max_seconds))
        # From the store: the change that woke us may not have reached the process's copy yet.
        current = _job_document(extension.watcher, job_id, cached=False)
    return current_app.response_class(current.body, mimetype="application/json")


@bp.get("")
@require_scope("read")
def list_jobs() -> ResponseReturnValue:
    query = JOB_LIST_QUERY.load(request.args)
    before = decode_cursor(query["cursor"]) if "cursor" in query else None
    jobs = repository.list_jobs(
        store(),
        target=query.get("target"),
        state=JobState(query["state"]) if "state" in query else None,
        kind=JobKind(query["kind"]) if "kind" in query else None,
        limit=query["limit"] + 1,
        before=before,
    )
    page, more = jobs[: query["limit"]], len(jobs) > query["limit"]
    next_cursor = encode_cursor(page[-1]) if more and page else None
    return {"jobs": JOBS.dump(page), "next_cursor": next_cursor}


@bp.post("/<job_id>/cancel")
@require_scope("deploy")
def cancel_job(job_id: str) -> ResponseReturnValue:
    return job_document(decisions.cancel(store(), job_id, g.principal))


def encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, job_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created_at), str(uuid.UUID(str(job_id)))
    except (ValueError, TypeError):
        raise Problem(400, "Bad Request", "The cursor is not one this service gave out.") from None
