"""Following a job on the service for `gate` and `wait`: a line per journal event as it happens.

A job that waits for a person is said at once, with its plan, its console page and the commands
that decide it; a long step gets a line with its elapsed time every `DEPLOY_GATE_PROGRESS_SECONDS`
(30 by default) so a build log shows the gate is alive, and a job no worker has taken says so; a rejected job's verdict comes with the
reasons it waited with (the store keeps them, service.store.repository.record_approval). A lint
step is followed by its count of findings by level and the warnings that matter for the deploy
(service.jobs.lint_step).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.cli import EXIT_CANNOT_RUN, EXIT_UNHEALTHY, Output
from service.cli.remote import ServiceClient, ServiceError
from service.jobs.lint_step import lint_lines
from service.prisma.connection_failures import describe_attempt
from service.recovery.blockers import describe_wait

TERMINAL = ("succeeded", "failed", "canceled")
# The service parks a long-poll for at most this long.
_LONG_POLL_SECONDS = 25
# Seconds between the lines that say a long step is still running; tests shorten it.
PROGRESS_SECONDS_ENV = "DEPLOY_GATE_PROGRESS_SECONDS"
_PROGRESS_SECONDS = 30.0
# The steps of a recover job looking for the sessions whose locks block a retry.
_BLOCKER_LOOK = "wait_for_blockers:"
# A failed attempt to reach the target or its shadow server (service.jobs.unreachable).
_UNREACHABLE = ("wait_for_target:", "wait_for_shadow:")

EventHook = Callable[[dict[str, Any], dict[str, Any]], None]


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
        if data.get("message"):  # said for people (a dead worker's job resuming: service.store.repository.workers)
            return f"{at}{data['message']}"
        return f"{at}note: " + (" ".join(str(data[key]) for key in ("webhook", "event") if data.get(key)) or "recorded")
    if event["kind"] == "step_finished" and (event["step"] or "").startswith(_BLOCKER_LOOK) and event["data"].get("outcome"):
        return f"{at}{describe_wait(event['data'])}"
    if event["kind"] == "step_finished" and (event["step"] or "").startswith("wait_for_catalog:") and event["data"].get("message"):
        data = event["data"]
        waited = f"{data.get('waited_seconds')} of {data.get('bound_seconds')} s waited"
        return f"{at}{data['message']}; next look in {data.get('next_look_in_seconds')} s ({waited})"
    if event["kind"] == "step_finished" and (event["step"] or "").startswith(_UNREACHABLE) and event["data"].get("reason"):
        return f"{at}{describe_attempt(event['data'])}"
    phase = event["kind"].removeprefix("step_")
    return f"{at}{event['step']} {phase}"


def approval_lines(job: dict[str, Any], console_url: str, whole_plan: bool = False) -> list[str]:
    """Why a job waits for a person, the plan they would approve, its console page, and how to decide.

    A build log gets the plan in two lines at most; `jobs show` and the console have all of it.
    """
    approval = (job.get("facts") or {}).get("approval") or {}
    plan = [str(step) for step in approval.get("plan") or []]
    if len(plan) > 2 and not whole_plan:
        plan = [plan[0], f"… and {len(plan) - 1} more steps: deploy-gate jobs show {job['id']}"]
    lines = [f"  {job['kind']} job {job['id']} waits for a person to approve its plan:"]
    lines += [f"    why: {reason}" for reason in job.get("reasons") or []]
    lines += [f"    plan: {step}" for step in plan]
    lines.append(f"    console: {console_url}")
    lines.append(f"    approve: deploy-gate jobs approve {job['id']} --comment '…'   (a token with the approve scope)")
    lines.append(f"    or reject: deploy-gate jobs reject {job['id']} --comment '…'")
    return lines


def progress_interval() -> float:
    try:
        return max(1.0, float(os.environ.get(PROGRESS_SECONDS_ENV, _PROGRESS_SECONDS)))
    except ValueError:
        return _PROGRESS_SECONDS


def _seconds_since(since: str) -> int:
    return max(0, int((datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()))


def _elapsed(since: str) -> str:
    seconds = _seconds_since(since)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@dataclass
class JobFollower:
    """Prints a job's journal, and that of the recover job a failed deploy waits for, as it grows.

    `on_event(event, job)` hears about each new event of the followed job itself (the gate counts
    the pending migrations from its status step).
    """

    output: Output
    client: ServiceClient
    on_event: EventHook | None = None
    progress_seconds: float = field(default_factory=progress_interval)
    seen: dict[str, int] = field(default_factory=dict)
    # job id -> the migrations its `status` step found pending, for the lint step's lines
    pending: dict[str, list[str]] = field(default_factory=dict)
    last_line_at: float = field(default_factory=time.monotonic)

    def follow(self, job_id: str, deadline: float) -> dict[str, Any]:
        """Long-poll a job until it ends or `deadline` passes; returns the job as last read.

        A deploy whose apply failed waits for the recover job it started, which decides its
        verdict: that job is long-polled instead while it runs, its lines named by the first 8
        characters of its id. Each job is first read without waiting, so what its journal holds
        already (a wait for approval, say) is printed at once. The caller tells a finished job
        from a timed-out one by its state.
        """
        recover_job: str | None = None
        child: dict[str, Any] = {}
        while True:
            if recover_job is not None:
                child = self._read(recover_job, deadline)
                self._print_new(child, f"recover job {recover_job[:8]}")
                job = self._read(job_id, None)
            else:
                job = self._read(job_id, deadline)
            started = self._print_new(job, on_finished_child=self._print_finished_child, on_event=self.on_event)
            if job["state"] in TERMINAL or time.monotonic() >= deadline:
                return job
            if started:
                recover_job = started
            elif recover_job is not None and child["state"] in TERMINAL:
                recover_job = None  # its verdict is on its way to this job: long-poll this one again
            self._say_progress(child if recover_job is not None else job, f"recover job {recover_job[:8]}" if recover_job else None)

    def _read(self, job_id: str, deadline: float | None) -> dict[str, Any]:
        """The job now; with a deadline and once it has been read before, after it changes (or a while)."""
        try:
            if deadline is None or job_id not in self.seen:
                document = self.client.get(f"/v1/jobs/{job_id}")
                self.seen.setdefault(job_id, 0)
                return document
            until_progress = self.last_line_at + self.progress_seconds - time.monotonic()
            wait = int(min(_LONG_POLL_SECONDS, max(1, until_progress), max(1, deadline - time.monotonic())))
            return self.client.get(f"/v1/jobs/{job_id}", wait=wait)
        except ServiceError as error:
            self.output.error(None, str(error), EXIT_CANNOT_RUN)

    def _line(self, text: str) -> None:
        self.output.line(text)
        self.last_line_at = time.monotonic()

    def _say_progress(self, job: dict[str, Any], name: str | None) -> None:
        """A line with the elapsed time when nothing was printed for `progress_seconds`."""
        if time.monotonic() - self.last_line_at < self.progress_seconds or not job.get("events"):
            return
        last = job["events"][-1]
        now = datetime.now(UTC).strftime("%H:%M:%S") + "  " + (f"{name}: " if name else "")
        if job["state"] == "queued":
            # Queued this long: no worker runs, or every worker is busy (`/readyz` tells which).
            self._line(f"{now}no worker has taken this job for {_seconds_since(job['created_at'])} s")
        elif last["kind"] == "step_started":
            self._line(f"{now}{last['step']} still running after {_elapsed(last['at'])}")
        else:
            self._line(f"{now}still {job['state']} after {_elapsed(last['at'])}")

    def _print_finished_child(self, child_id: str) -> None:
        # The deploy ended before its recover job was followed: its steps, once, in their place.
        try:
            self._print_new(self.client.get(f"/v1/jobs/{child_id}"), f"recover job {child_id[:8]}")
        except ServiceError as error:
            self.output.error(None, str(error), EXIT_CANNOT_RUN)

    def _print_new(
        self, job: dict[str, Any], name: str | None = None, on_finished_child: Callable[[str], None] | None = None, on_event: EventHook | None = None
    ) -> str | None:
        """Print the events not printed yet; the id of a recover job the job started among them, if any.

        When the job has ended already, `on_finished_child` prints that recover job's steps right
        after the event that started it, before the job's own last events.
        """
        started = None
        for event in job["events"]:
            if event["id"] <= self.seen.get(job["id"], 0):
                continue
            self._line(describe_event(event, name))
            self.seen[job["id"]] = event["id"]
            if on_event is not None:
                on_event(event, job)
            if event["kind"] == "step_finished" and event["step"] == "status":
                self.pending[job["id"]] = [str(name) for name in event["data"].get("to_deploy") or ()]
            if event["kind"] == "step_finished" and event["step"] == "lint":
                self.output.lines(lint_lines(event["data"], job, self.pending.get(job["id"])))
            if event["step"] == "recover" and event["kind"] == "step_finished" and event["data"].get("job"):
                started = event["data"]["job"]
                because = f" after {event['data']['because']}" if event["data"].get("because") else ""
                self._line(f"{event['at'][11:19]}  recovery running{because}: recover job {started} decides this deploy's verdict; its steps follow")
                if job["state"] in TERMINAL and on_finished_child is not None:
                    on_finished_child(started)
            if event["kind"] == "transition" and event["to_state"] == "waiting_approval" and job["state"] == "waiting_approval":
                self.output.lines(approval_lines(job, self.client.console_url(job["id"])))
        return started


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
