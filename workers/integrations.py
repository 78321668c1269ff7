"""Reports owed to Vercel and GitHub: a task per report, and a beat task that finds the due ones.

`deploy_gate.sync_integration_report(job_id, source)` takes one report one step forward
(`service.integrations.sync_report`): with Vercel's checks v2, find or make the deployment's check
run and tell it the job runs, then how it ended; with v1, create the check, mark it running, keep
it fresh, complete it; or answer GitHub's protection rule once the job has ended.
`deploy_gate.sync_vercel_check_run(run_id)` concludes a v2 check run that no job carries
`skipped` (`service.integrations.vercel_checks_v2.sync_jobless_run`). A platform that cannot be
reached is retried with backoff (the store also says when the report is due again, so the beat
task leaves it alone until then); a refusal ends the report. The job and its verdict are never
touched. The API enqueues the first sync right after a webhook; `deploy_gate.sync_integration_reports`
runs on the beat every SYNC_INTERVAL_SECONDS and enqueues a sync for each report with something to
tell (a job that ended, a running check about to go stale, a check or run not made yet), and one
for each check run with no job that is due.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task

from service.integrations import KEEP_FRESH_SECONDS, RetryLater, sync_report
from service.integrations.vercel_checks_v2 import sync_jobless_run
from service.store import repository
from workers import state

log = logging.getLogger(__name__)

SYNC_REPORT_TASK = "deploy_gate.sync_integration_report"
SYNC_DUE_TASK = "deploy_gate.sync_integration_reports"
SYNC_RUN_TASK = "deploy_gate.sync_vercel_check_run"
SYNC_INTERVAL_SECONDS = 15.0
MAX_RETRIES = 8
# Publishing from the API is retried briefly: a request is waiting on it.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@shared_task(name=SYNC_REPORT_TASK, bind=True, max_retries=None, ignore_result=True)
def sync_integration_report(self: Task[[str, str], str], job_id: str, source: str) -> str:
    with state.store() as store:
        try:
            return sync_report(store, state.config(), job_id, source, keep_fresh_seconds=KEEP_FRESH_SECONDS)
        except RetryLater as later:
            if self.request.retries >= MAX_RETRIES:
                return "left to the beat task"
            raise self.retry(countdown=later.retry_in) from None


@shared_task(name=SYNC_RUN_TASK, ignore_result=True)
def sync_vercel_check_run(run_id: str) -> str:
    # No retry of its own: the store says when a failed run is due again, and the beat task sends it then.
    with state.store() as store:
        try:
            return sync_jobless_run(store, state.config(), run_id)
        except RetryLater:
            return "left to the beat task"


@shared_task(name=SYNC_DUE_TASK, bind=True, ignore_result=True)
def sync_integration_reports(self: Task[[], int]) -> int:
    with state.store() as store:
        due = repository.due_integration_reports(store, fresh_seconds=KEEP_FRESH_SECONDS)
        runs = repository.due_jobless_runs(store)
    for job_id, source in due:
        self.app.send_task(SYNC_REPORT_TASK, args=[job_id, source])
    for run_id in runs:
        self.app.send_task(SYNC_RUN_TASK, args=[run_id])
    return len(due) + len(runs)
