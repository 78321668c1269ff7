"""A job's run: steps journaled before and after they run, and the signals a step can give its task."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from service.config.records import Target
from service.jobs.states import JobState
from service.log_config import enter_step, step_context
from service.notifications import Notify, no_notifier
from service.prisma.errors import MigrateError
from service.prisma.migrations import LocalMigrations
from service.store import repository
from service.store.repository import Job

log = logging.getLogger(__name__)


class RetryableError(Exception):
    """Infrastructure trouble (a target or the store unreachable): the task should retry later."""


class Deferred(Exception):
    """The job waits for something outside it (a lock holder, AWS): run it again after `seconds`."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class AwaitingApproval(Exception):
    """The next step needs a person's approval: the job waits with the plan that will run."""

    def __init__(self, step: str, plan: list[str], reasons: list[str], details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{step} needs approval")
        self.step = step
        self.plan = plan
        self.reasons = reasons
        self.details = details or {}


class JobCanceled(Exception):
    """The job was canceled while it ran: stop before the next step."""


@dataclass
class JobRun:
    store: psycopg.Connection
    job: Job
    target: Target
    local: LocalMigrations | None
    finished: dict[str, dict[str, Any]]
    # Starts a follow-up job's task once its row has committed (a recover job after a failed apply).
    enqueue: Callable[[str], None] = field(default=lambda job_id: None)
    # Tells people (service.notifications): never raises, never waits on the receiver.
    notify: Notify = no_notifier

    @property
    def prisma_version(self) -> int:
        """The Prisma major version the job follows: the request's, else the target's (service.prisma.execution)."""
        asked = self.job.params.get("prisma_version")
        return asked if isinstance(asked, int) else self.target.prisma_version

    def step(self, name: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a step once: journal it, or return what it recorded if it already finished."""
        if name in self.finished:
            return self.finished[name]
        self.stop_if_canceled()
        with step_context(name):
            repository.record_step(self.store, self.job.id, name, "started")
            started = time.monotonic()
            try:
                result = action()
            except MigrateError as error:
                repository.record_step(self.store, self.job.id, name, "failed", {"code": error.code, "error": error.headline})
                log.warning("step failed: %s", error.headline, extra={"code": error.code, "duration_ms": _since(started)})
                raise
            repository.record_step(self.store, self.job.id, name, "finished", result)
            log.info("step finished", extra={"duration_ms": _since(started)})
        self.finished[name] = result
        return result

    def observe(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Journal what the job saw at once (a failed attempt to reach a server) as one finished
        step event: no start, for nothing ran that a resumed job could find half done."""
        repository.record_step(self.store, self.job.id, name, "finished", data)
        self.finished[name] = data
        return data

    def record_apply(self, event: str, name: str) -> None:
        """`deploy`'s progress callback: each migration is journaled as its own step, `apply:NAME`.

        A cancel stops between migrations, never inside one.
        """
        step = f"apply:{name}"
        if event == "applying":
            enter_step(step)
        repository.record_step(self.store, self.job.id, step, {"applying": "started", "applied": "finished", "failed": "failed"}[event])
        if event == "failed":
            log.warning("step failed")
        if event == "applied":
            log.info("step finished")
            self.stop_if_canceled()

    def interrupted_applies(self) -> set[str]:
        """Migrations this job started applying and never saw end (its worker died meanwhile)."""
        events = repository.job_events(self.store, self.job.id)
        # Counted, not compared as sets: a recover job applies one migration more than once.
        opened = Counter(e.step for e in events if e.kind == "step_started" and e.step and e.step.startswith("apply:"))
        opened.subtract(e.step for e in events if e.kind in ("step_finished", "step_failed") and e.step is not None and e.step in opened)
        return {step.removeprefix("apply:") for step, count in opened.items() if count > 0}

    @property
    def migrations(self) -> LocalMigrations:
        """The job's bundle, for the steps that work with one; the runner starts those jobs only with it."""
        if self.local is None:
            raise MigrateError("the job has no migrations bundle")
        return self.local

    def stop_if_canceled(self) -> None:
        if repository.get_job(self.store, self.job.id).state is JobState.CANCELED:
            raise JobCanceled(self.job.id)

    def approval(self, step: str) -> dict[str, Any] | None:
        """The decision a person recorded for a step that waited for approval, if any."""
        return repository.approval_for(self.store, self.job.id, step)

    def tell(self, kind: str, job: Job, step: str | None = None, **details: Any) -> None:
        """Notify once per job and occasion, and journal what became of it: enqueued, not configured, failed.

        Enqueued is not delivered: the delivery task journals that (the report's "team notified").
        """

        def send() -> dict[str, Any]:
            handoff = self.notify(kind, job, **details)
            return {"notification": kind, "handoff": str(handoff) if handoff else None}

        self.step(step or f"notify:{kind}", send)


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
