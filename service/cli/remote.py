"""`jobs list|show` and `wait`: the service's jobs over HTTP, for ops and for builds.

`deploy-gate wait JOB_ID` long-polls the job, prints a line per step as it happens (and those of
the recover job a failed deploy waits for), and exits 0 on `proceed`, 1 on `blocked`, 2 on an
error, a failed or canceled job, or a timeout.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import click

from service import outbound
from service.backoff import backoff_seconds
from service.cli import EXIT_CANNOT_RUN, EXIT_UNHEALTHY, CommandFunction, Output, main
from service.recovery.blockers import describe_wait

_TERMINAL = ("succeeded", "failed", "canceled")
# The service parks a long-poll for at most this long.
_LONG_POLL_SECONDS = 25
# The steps of a recover job looking for the sessions whose locks block a retry.
_BLOCKER_LOOK = "wait_for_blockers:"

# Answers worth asking again: rate limited, or a proxy in front of the service that could not reach it.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_CAP_SECONDS = 30.0
# A job's journal can be long; a list of 200 of them too.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class ServiceError(Exception):
    """The service could not be reached or answered with a problem; the message is for people."""


class ServiceClient:
    """JSON over HTTP with a bearer token, through `service.outbound` (a redirect is an error, never followed).

    With `retries`, network errors and RETRY_STATUSES are asked again after `service.backoff`'s
    wait: from `backoff` seconds, doubling, with jitter, at most RETRY_CAP_SECONDS (or longer if
    Retry-After says so, within the cap); `on_retry(problem, delay, attempt)` hears about each
    one. Only requests that are safe to repeat should be sent so: reads, and posts that carry an
    Idempotency-Key.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float = 35.0,
        *,
        retries: int = 0,
        backoff: float = 1.0,
        on_retry: Callable[[str, float, int], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # For messages: a URL may carry credentials (https://user:password@host), never printed.
        parts = urllib.parse.urlsplit(self.base_url)
        self.display_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else self.base_url
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.on_retry = on_retry
        self.last_status: int | None = None  # of the last answer: 202 new job, 200 the first one again

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        parameters = {key: value for key, value in query.items() if value is not None}
        url = f"{self.base_url}{path}" + (f"?{urllib.parse.urlencode(parameters)}" if parameters else "")
        return self._send("GET", url, {"Accept": "application/json"})

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}
        return self._send("POST", f"{self.base_url}{path}", headers, json.dumps(body).encode())

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> dict[str, Any]:
        if self.token:
            headers = {**headers, "Authorization": f"Bearer {self.token}"}
        attempt = 0
        while True:
            retry_after = None
            try:
                answer = outbound.request(method, url, headers=headers, body=body, timeout=self.timeout, max_body=MAX_ANSWER_BYTES)
            except outbound.UnusableUrl as error:
                raise ServiceError(f"cannot use the URL {self.display_url}: {error}") from None
            except outbound.ResponseTooLarge as error:
                raise ServiceError(f"{self.display_url}: {error}") from None
            except outbound.Unreachable as error:
                problem = f"cannot reach {self.display_url}: {error.reason}"
                if attempt >= self.retries:
                    raise ServiceError(problem) from None
            else:
                if 200 <= answer.status < 300:
                    self.last_status = answer.status
                    return _json_answer(answer, self.display_url)
                problem, retry_after = _problem_text(answer), answer.retry_after
                if answer.status not in RETRY_STATUSES or attempt >= self.retries:
                    raise ServiceError(problem)
            delay = min(RETRY_CAP_SECONDS, max(backoff_seconds(attempt, self.backoff, RETRY_CAP_SECONDS, floor=self.backoff), retry_after or 0.0))
            attempt += 1
            if self.on_retry:
                self.on_retry(problem, delay, attempt)
            time.sleep(delay)


def _json_answer(answer: outbound.Answer, base_url: str) -> dict[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ServiceError(f"{base_url} answered {answer.status} with something other than a JSON object")
    return document


def _problem_text(answer: outbound.Answer) -> str:
    """`<status> <title>: <detail>` from the service's problem document, or the status's own phrase."""
    try:
        phrase = HTTPStatus(answer.status).phrase
    except ValueError:
        phrase = "(unknown status)"
    try:
        problem = json.loads(answer.body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"{answer.status} {phrase}"
    detail = f": {problem['detail']}" if problem.get("detail") else ""
    return f"{answer.status} {problem.get('title', phrase)}{detail}"


def _client_options(command: CommandFunction) -> CommandFunction:
    scopes = "A bearer token with the read scope (gate: deploy and read; jobs approve|reject: approve)."
    command = click.option("--token", envvar="DEPLOY_GATE_TOKEN", show_envvar=True, help=scopes)(command)
    command = click.option(
        "--url", "base_url", envvar="DEPLOY_GATE_URL", show_envvar=True, default="http://127.0.0.1:8080", show_default=True, help="The service."
    )(command)
    return command


@main.group()
def jobs() -> None:
    """Jobs on the deploy-gate service."""


@jobs.command("list")
@_client_options
@click.option("--target")
@click.option("--state", type=click.Choice(["queued", "running", "waiting_approval", "succeeded", "failed", "canceled"]))
@click.option("--kind", type=click.Choice(["check", "deploy", "recover", "rollback", "restore"]))
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_jobs(base_url: str, token: str | None, target: str | None, state: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """Newest jobs first."""
    output = Output(as_json)
    try:
        page = ServiceClient(base_url, token).get("/v1/jobs", target=target, state=state, kind=kind, limit=limit)
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.document(page)
    for job in page["jobs"]:
        output.line(f"{job['id']}  {job['created_at'][:19]}  {job['kind']:<8} {job['target']:<16} {job['state']:<16} {job['verdict'] or ''}")


@jobs.command("show")
@_client_options
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def show_job(base_url: str, token: str | None, job_id: str, as_json: bool) -> None:
    """One job with its journal."""
    output = Output(as_json)
    try:
        job = ServiceClient(base_url, token).get(f"/v1/jobs/{job_id}")
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.document(job)
    output.line(f"{job['kind']} job {job['id']} on {job['target']}: {job['state']}" + (f", verdict {job['verdict']}" if job["verdict"] else ""))
    for reason in job["reasons"]:
        output.line(f"  reason: {reason}")
    for event in job["events"]:
        output.line("  " + describe_event(event))


@jobs.command("approve")
@_client_options
@click.argument("job_id")
@click.option("--comment", help="Why; recorded in the journal and the incident report.")
def approve_job(base_url: str, token: str | None, job_id: str, comment: str | None) -> None:
    """Approve the plan a job waits with (a token with the approve scope)."""
    _decide(base_url, token, job_id, "approve", comment)


@jobs.command("reject")
@_client_options
@click.argument("job_id")
@click.option("--comment", help="Why; recorded in the journal and the incident report.")
def reject_job(base_url: str, token: str | None, job_id: str, comment: str | None) -> None:
    """Reject the plan a job waits with: the job ends blocked."""
    _decide(base_url, token, job_id, "reject", comment)


def _decide(base_url: str, token: str | None, job_id: str, decision: str, comment: str | None) -> None:
    output = Output(False)
    try:
        job = ServiceClient(base_url, token).post(f"/v1/jobs/{job_id}/{decision}", {"comment": comment})
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    output.line(f"{job['kind']} job {job['id']}: {job['state']}" + (f", verdict {job['verdict']}" if job["verdict"] else ""))


def describe_event(event: dict[str, Any], job: str | None = None) -> str:
    """A journal event on one line; `job` names the job it belongs to when it is not the one followed."""
    at = event["at"][11:19] + "  " + (f"{job}: " if job else "")
    if event["kind"] == "transition":
        return f"{at}{event['from_state'] or 'new'} -> {event['to_state']}"
    if event["kind"] == "approval":
        verb = "approved" if event["data"].get("approved") else "rejected"
        comment = f": {event['data']['comment']}" if event["data"].get("comment") else ""
        return f"{at}{event['step']} {verb} by {event['data'].get('by')}{comment}"
    if event["kind"] == "note":
        data = event["data"]
        if "outcome" in data:  # what became of a notification (workers.notifications)
            return f"{at}{data.get('notification')} notification {str(data['outcome']).replace('_', ' ')}"
        return f"{at}note: " + (" ".join(str(data[key]) for key in ("webhook", "event") if data.get(key)) or "recorded")
    if event["kind"] == "step_finished" and (event["step"] or "").startswith(_BLOCKER_LOOK) and event["data"].get("outcome"):
        return f"{at}{describe_wait(event['data'])}"
    if event["kind"] == "step_finished" and (event["step"] or "").startswith("wait_for_catalog:") and event["data"].get("message"):
        data = event["data"]
        waited = f"{data.get('waited_seconds')} of {data.get('bound_seconds')} s waited"
        return f"{at}{data['message']}; next look in {data.get('next_look_in_seconds')} s ({waited})"
    phase = event["kind"].removeprefix("step_")
    return f"{at}{event['step']} {phase}"


def follow_job(output: Output, client: ServiceClient, job_id: str, deadline: float) -> dict[str, Any]:
    """Long-poll a job until it ends or `deadline` passes, a line per journal event as it comes.

    A deploy whose apply failed waits for the recover job it started, which decides its verdict.
    While it waits, that job is long-polled instead and its lines printed too, named by the first 8
    characters of its id, so a person sees the recovery as it happens: a wait for a session's
    lock, say. Returns the followed job as last read; the caller tells a finished one from a
    timed-out one by its state.
    """
    seen: dict[str, int] = {}
    recover_job: str | None = None
    while True:
        wait = int(min(_LONG_POLL_SECONDS, max(1, deadline - time.monotonic())))
        try:
            if recover_job is not None:
                child = client.get(f"/v1/jobs/{recover_job}", wait=wait)
                _print_new(output, child, seen, f"recover job {recover_job[:8]}")
                job = client.get(f"/v1/jobs/{job_id}")
            else:
                job = client.get(f"/v1/jobs/{job_id}", wait=wait)
        except ServiceError as error:
            output.error(None, str(error), EXIT_CANNOT_RUN)

        def print_finished_child(child_id: str) -> None:
            # The deploy ended before its recover job was followed: its steps, once, in their place.
            try:
                _print_new(output, client.get(f"/v1/jobs/{child_id}"), seen, f"recover job {child_id[:8]}")
            except ServiceError as error:
                output.error(None, str(error), EXIT_CANNOT_RUN)

        started = _print_new(output, job, seen, on_finished_child=print_finished_child)
        if job["state"] in _TERMINAL or time.monotonic() >= deadline:
            return job
        if started:
            recover_job = started
        elif recover_job is not None and child["state"] in _TERMINAL:
            recover_job = None  # its verdict is on its way to this job: long-poll this one again


def _print_new(
    output: Output, job: dict[str, Any], seen: dict[str, int], name: str | None = None, on_finished_child: Callable[[str], None] | None = None
) -> str | None:
    """Print the events not printed yet; the id of a recover job the job started among them, if any.

    When the job has ended already, `on_finished_child` prints that recover job's steps right after
    the event that started it, before the job's own last events.
    """
    started = None
    for event in job["events"]:
        if event["id"] <= seen.get(job["id"], 0):
            continue
        output.line(describe_event(event, name))
        seen[job["id"]] = event["id"]
        if event["step"] == "recover" and event["kind"] == "step_finished" and event["data"].get("job"):
            started = event["data"]["job"]
            because = f" after {event['data']['because']}" if event["data"].get("because") else ""
            output.line(f"{event['at'][11:19]}  recovery running{because}: recover job {started} decides this deploy's verdict; its steps follow")
            if job["state"] in _TERMINAL and on_finished_child is not None:
                on_finished_child(started)
        if event["kind"] == "transition" and event["to_state"] == "waiting_approval" and job["state"] == "waiting_approval":
            output.lines(_waiting_for_approval(job))
    return started


def _waiting_for_approval(job: dict[str, Any]) -> list[str]:
    """Why a job waits for a person, the plan they would approve, and how to decide."""
    approval = (job.get("facts") or {}).get("approval") or {}
    lines = [f"  {job['kind']} job {job['id']} waits for a person to approve its plan:"]
    lines += [f"    why: {reason}" for reason in job.get("reasons") or []]
    lines += [f"    plan: {step}" for step in approval.get("plan") or []]
    lines.append(f"    approve: deploy-gate jobs approve {job['id']} --comment '…'   (a token with the approve scope)")
    lines.append(f"    or reject: deploy-gate jobs reject {job['id']} --comment '…'")
    return lines


@main.command()
@_client_options
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds to wait in all.")
def wait(base_url: str, token: str | None, job_id: str, timeout: float) -> None:
    """Follow a job to its verdict: exit 0 on proceed, 1 on blocked, 2 otherwise."""
    output = Output(False)
    job = follow_job(output, ServiceClient(base_url, token), job_id, time.monotonic() + timeout)
    if job["state"] not in _TERMINAL:
        output.error(None, f"job {job_id} is still {job['state']} after {timeout:g} s", EXIT_CANNOT_RUN)
    exit_with_verdict(output, job)


def exit_with_verdict(output: Output, job: dict[str, Any]) -> None:
    """Print a finished job's reasons and verdict; exit 0 on proceed, 1 on blocked, 2 otherwise."""
    for reason in job["reasons"]:
        output.line(f"reason: {reason}")
    if job["state"] == "succeeded" and job["verdict"] == "proceed":
        output.line("verdict: proceed")
        sys.exit(0)
    if job["state"] == "succeeded" and job["verdict"] == "blocked":
        output.line("verdict: blocked")
        sys.exit(EXIT_UNHEALTHY)
    output.error(None, f"job {job['id']} ended {job['state']} without a verdict", EXIT_CANNOT_RUN)
