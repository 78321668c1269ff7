"""Worker liveness: each process that runs jobs records a heartbeat in the store and names itself on
the job it runs, so the reconciler can tell a running job whose worker died from one still running.

The heartbeat lives in the process that executes the tasks. With the prefork pool (the Procfile's)
that is each child process (`worker_process_init`), so a child still finishing its job after its
parent was killed keeps that job; the solo pool sends the same signal in the worker itself; with a
thread or green pool (gevent, eventlet) the worker process starts it once ready (`worker_ready`).

The heartbeat is a daemon thread with a connection of its own for each beat: nothing of it is
shared with the task's pool, and nothing is inherited by a process forked meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from celery import signals
from celery.concurrency.prefork import TaskPool as PreforkPool

from service.store import repository
from workers import state

log = logging.getLogger(__name__)

# A dead worker's row says nothing its absence does not; a day of them is kept for people looking.
_PRUNE_AFTER_SECONDS = 24 * 60 * 60


class Heartbeat:
    """Records `worker_id`'s heartbeat every `interval` seconds until stopped, and releases the
    worker's claims on jobs it is not running (a release its task could not write)."""

    def __init__(self, worker_id: str, database_url: str, interval: float) -> None:
        self.worker_id = worker_id
        self.database_url = database_url
        self.interval = interval
        self.running: set[str] = set()  # the jobs this process runs now
        self.lock = threading.Lock()  # a claim and a beat's release of stale claims never interleave
        self._stopped = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="deploy-gate-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.interval + 5)
        try:
            with self._connect() as conn:
                repository.forget_worker(conn, self.worker_id)
        except psycopg.Error as error:
            log.warning("worker %s could not remove its heartbeat (%s); it goes stale instead", self.worker_id, type(error).__name__)

    def beat(self) -> None:
        with self._connect() as conn, self.lock:
            repository.record_heartbeat(conn, self.worker_id, hostname=socket.gethostname(), pid=os.getpid())
            repository.release_jobs_except(conn, self.worker_id, self.running)

    def _connect(self) -> psycopg.Connection:
        timeout = max(2, int(self.interval))
        return psycopg.connect(self.database_url, autocommit=True, connect_timeout=timeout, options=f"-c statement_timeout={timeout * 1000}")

    def _run(self) -> None:
        try:
            with self._connect() as conn:
                repository.prune_workers(conn, silent_for_seconds=_PRUNE_AFTER_SECONDS)
        except psycopg.Error:
            pass  # the beats below say it
        while True:
            try:
                self.beat()
                if self._failing:
                    log.info("worker %s records its heartbeat again", self.worker_id)
                self._failing = False
            except psycopg.Error as error:
                if not self._failing:  # once per outage, not every beat
                    log.error("worker %s cannot record its heartbeat: %s; its jobs will be resumed elsewhere", self.worker_id, type(error).__name__)
                self._failing = True
            if self._stopped.wait(self.interval):
                return


_heartbeat: Heartbeat | None = None


def start_heartbeat() -> Heartbeat:
    """Give this process a worker id and start its heartbeat (once per process)."""
    global _heartbeat
    if _heartbeat is None:
        settings = state.settings()
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _heartbeat = Heartbeat(worker_id, settings.database_url, settings.worker_heartbeat_seconds)
        _heartbeat.start()
        log.info("worker %s records its heartbeat every %.0f s", worker_id, settings.worker_heartbeat_seconds)
    return _heartbeat


def stop_heartbeat() -> None:
    global _heartbeat
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None


@contextmanager
def running(job_id: str) -> Iterator[str | None]:
    """Run a job's task as this worker: yields None when this process may run the job (it is named
    on the job until the block ends), or the id of the live worker that runs it already.

    A process without a heartbeat (an embedded test worker) claims nothing and may always run.
    """
    heartbeat = _heartbeat
    if heartbeat is None:
        yield None
        return
    with heartbeat.lock:
        # Another thread of this process runs it already (a thread or green pool): the claim is this worker's.
        holder: str | None = heartbeat.worker_id if job_id in heartbeat.running else None
        if holder is None:
            heartbeat.running.add(job_id)
            try:
                with state.store() as store:
                    holder = repository.claim_job(store, job_id, heartbeat.worker_id, fresh_within_seconds=state.settings().worker_stale_seconds)
            except BaseException:
                heartbeat.running.discard(job_id)
                raise
            if holder is not None:
                heartbeat.running.discard(job_id)
    if holder is not None:
        yield holder
        return
    try:
        yield None
    finally:
        with heartbeat.lock:
            heartbeat.running.discard(job_id)
        try:
            with state.store() as store:
                repository.release_job(store, job_id, heartbeat.worker_id)
        except psycopg.Error as error:
            log.warning("job %s: its claim is released by the next heartbeat (%s)", job_id, type(error).__name__, extra={"job_id": job_id})


@signals.worker_process_init.connect
def _start_in_the_process_that_runs_tasks(**_: Any) -> None:
    start_heartbeat()


@signals.worker_ready.connect
def _start_in_a_worker_that_runs_tasks_itself(sender: Any = None, **_: Any) -> None:
    if not isinstance(getattr(sender, "pool", None), PreforkPool):
        start_heartbeat()


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    stop_heartbeat()
