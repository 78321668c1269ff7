"""`jobs list|show|report|approve|reject|cancel` and `wait`: the service's jobs over HTTP, for ops and for builds.

`deploy-gate wait JOB_ID` prints the job's journal so far, long-polls it, prints a line per step as
it happens (and those of the recover job a failed deploy waits for), and exits 0 on `proceed`, 1
on `blocked`, 2 on an error, a failed or canceled job, or a timeout.
"""

from __future__ import annotations

import time
from typing import Any

import click

from service.cli import EXIT_CANNOT_RUN, Output, main
from service.cli.follow import TERMINAL, JobFollower, approval_lines, describe_event, exit_with_verdict
from service.cli.remote import ServiceError, client_options, service_client

_LIST_COLUMNS = f"{'ID':<36}  {'CREATED (UTC)':<19}  {'KIND':<8} {'TARGET':<16} {'STATE':<16} VERDICT"


@main.group()
def jobs() -> None:
    """Jobs on the deploy-gate service."""


@jobs.command("list")
@client_options
@click.option("--target")
@click.option("--state", type=click.Choice(["queued", "running", "waiting_approval", "succeeded", "failed", "canceled"]))
@click.option("--kind", type=click.Choice(["check", "deploy", "recover", "rollback", "restore", "drift"]))
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_jobs(base_url: str, token: str | None, target: str | None, state: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """Newest jobs first."""
    output = Output(as_json)
    try:
        page = service_client(output, base_url, token).get("/v1/jobs", target=target, state=state, kind=kind, limit=limit)
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.document(page)
    if not page["jobs"]:
        output.line("No jobs" + (" match these filters." if target or state or kind else " yet."))
        return
    output.line(_LIST_COLUMNS)
    for job in page["jobs"]:
        output.line(f"{job['id']:<36}  {job['created_at'][:19]:<19}  {job['kind']:<8} {job['target']:<16} {job['state']:<16} {job['verdict'] or ''}")


@jobs.command("show")
@client_options
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def show_job(base_url: str, token: str | None, job_id: str, as_json: bool) -> None:
    """One job with its journal, and the plan it waits with, if it does."""
    output = Output(as_json)
    client = service_client(output, base_url, token)
    try:
        job = client.get(f"/v1/jobs/{job_id}")
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.document(job)
    output.line(f"{job['kind']} job {job['id']} on {job['target']}: {job['state']}" + (f", verdict {job['verdict']}" if job["verdict"] else ""))
    if job["state"] == "waiting_approval":
        output.lines(approval_lines(job, client.console_url(job["id"]), whole_plan=True))
    else:
        for reason in job["reasons"]:
            output.line(f"  reason: {reason}")
    for event in job["events"]:
        output.line("  " + describe_event(event))


@jobs.command("report")
@client_options
@click.argument("job_id")
@click.option("--format", "report_format", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def report_job(base_url: str, token: str | None, job_id: str, report_format: str) -> None:
    """The job's report: a recovery's runbook checklist, a check or deploy's verdict."""
    output = Output(False)
    accept = "text/markdown" if report_format == "markdown" else "application/json"
    try:
        text = service_client(output, base_url, token).get_text(f"/v1/jobs/{job_id}/report", accept, format=report_format)
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.line(text.rstrip("\n"))


@jobs.command("approve")
@client_options
@click.argument("job_id")
@click.option("--comment", help="Why; recorded in the journal and the incident report.")
def approve_job(base_url: str, token: str | None, job_id: str, comment: str | None) -> None:
    """Approve the plan a job waits with (a token with the approve scope)."""
    _act(base_url, token, job_id, "approve", {"comment": comment})


@jobs.command("reject")
@client_options
@click.argument("job_id")
@click.option("--comment", help="Why; recorded in the journal and the incident report.")
def reject_job(base_url: str, token: str | None, job_id: str, comment: str | None) -> None:
    """Reject the plan a job waits with: the job ends blocked."""
    _act(base_url, token, job_id, "reject", {"comment": comment})


@jobs.command("cancel")
@client_options
@click.argument("job_id")
def cancel_job(base_url: str, token: str | None, job_id: str) -> None:
    """Cancel a job that has not ended (a token with the deploy scope)."""
    _act(base_url, token, job_id, "cancel", {})


def _act(base_url: str, token: str | None, job_id: str, action: str, body: dict[str, Any]) -> None:
    output = Output(False)
    try:
        job = service_client(output, base_url, token).post(f"/v1/jobs/{job_id}/{action}", body)
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.line(f"{job['kind']} job {job['id']}: {job['state']}" + (f", verdict {job['verdict']}" if job["verdict"] else ""))


@main.command()
@client_options
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds to wait in all.")
def wait(base_url: str, token: str | None, job_id: str, timeout: float) -> None:
    """Follow a job to its verdict: exit 0 on proceed, 1 on blocked, 2 otherwise."""
    output = Output(False)
    follower = JobFollower(output, service_client(output, base_url, token))
    job = follower.follow(job_id, time.monotonic() + timeout)
    if job["state"] not in TERMINAL:
        output.error(None, f"job {job_id} is still {job['state']} after {timeout:g} s", EXIT_CANNOT_RUN)
    exit_with_verdict(follower.output, job)
