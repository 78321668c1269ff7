"""`GET /console/events`: Server-Sent Events about job changes, for the pages' live updates.

A stream waits on the process's job watcher (service.jobs.watch), holding no store connection
while it waits; when jobs changed it reads them with a pooled connection for that read only.
Under gunicorn's gevent workers the wait costs a greenlet. A comment line every
`HEARTBEAT_SECONDS` keeps proxies from closing a quiet stream and tells a closed client from a
live one: the write to a gone client fails and the stream ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Response, request

from service.http.console.auth import require
from service.http.console.views import bp
from service.http.extension import deploy_gate
from service.http.store import give_back, store
from service.jobs.watch import Subscription
from service.store import repository
from service.store.repository import Job, JobNotFound

HEARTBEAT_SECONDS = 15.0
# How soon a stream notices that its server process is stopping (`DeployGate.draining`), and ends so
# that the process does not wait out gunicorn's graceful timeout; the browser reconnects elsewhere.
DRAIN_CHECK_SECONDS = 1.0


def job_event(job: Job) -> str:
    data = {"id": job.id, "state": job.state.value, "verdict": job.verdict.value if job.verdict else None, "updated_at": job.updated_at.isoformat()}
    return f"event: job\ndata: {json.dumps(data)}\n\n"


@bp.get("/events")
@require("read")
def events() -> Response:
    job_id = request.args.get("job") or None
    if job_id is not None:
        repository.get_job(store(), job_id)  # 404 for no such job
    give_back()  # the stream holds no store connection
    extension = deploy_gate()
    pool, watcher = extension.pool, extension.watcher

    def read(ids: set[str]) -> list[Job]:
        with pool.connection() as conn:
            found = []
            for changed in sorted(ids):
                try:
                    found.append(repository.get_job(conn, changed))
                except JobNotFound:
                    pass
            return found

    def stream() -> Iterator[str]:
        with watcher.subscribe(job_id) as subscription:
            yield ": connected\n\n"
            # The job as it is once subscribed: a change since its page was rendered is not missed.
            for job in read({job_id}) if job_id is not None else []:
                yield job_event(job)
            quiet_since = time.monotonic()
            while not extension.draining():
                changed = subscription.wait(DRAIN_CHECK_SECONDS)
                if Subscription.EVERY_JOB in changed:
                    # The listener reconnected: a job stream re-reads its job; a stream of every job
                    # cannot know which changed, and the pages reload theirs on the next event.
                    changed.discard(Subscription.EVERY_JOB)
                    if job_id is not None:
                        changed.add(job_id)
                for job in read(changed) if changed else []:
                    quiet_since = time.monotonic()
                    yield job_event(job)
                if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": heartbeat\n\n"

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
