"""`GET /console/events`: Server-Sent Events about job changes, for the pages' live updates.

A stream waits on the process's job watcher (service.jobs.watch), holding no store connection
while it waits; when jobs changed it reads them with a pooled connection for that read only.
Under gunicorn's gevent workers the wait costs a greenlet. A comment line every
`HEARTBEAT_SECONDS` keeps proxies from closing a quiet stream and tells a closed client from a
live one: the write to a gone client fails and the stream ends. A stream also ends when its server
process stops (`JobWatcher.drain`); the browser reconnects to another.
"""

from __future__ import annotations

import json
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
# Any job may have changed: a list's page fetches its rows again.
JOBS_CHANGED = "event: jobs\ndata: {}\n\n"


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
            # The job as it is once subscribed: a change since its page was rendered is not missed
            # (a list's page refreshes itself once its stream is open).
            for job in read({job_id}) if job_id is not None else []:
                yield job_event(job)
            while True:
                changed = subscription.wait(HEARTBEAT_SECONDS)
                if subscription.ended:
                    return
                sent = False
                if Subscription.EVERY_JOB in changed:
                    # The listener (re)connected: any job may have changed unannounced.
                    changed.discard(Subscription.EVERY_JOB)
                    if job_id is not None:
                        changed.add(job_id)
                    else:
                        sent = True
                        yield JOBS_CHANGED
                for job in read(changed) if changed else []:
                    sent = True
                    yield job_event(job)
                if not sent:
                    yield ": heartbeat\n\n"

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
