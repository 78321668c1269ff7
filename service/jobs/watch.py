"""Wait for a job to change, woken by the store's NOTIFY rather than by polling.

One `JobWatcher` per process holds the only LISTEN connection, on a background thread, and wakes
the requests waiting on a job id. A waiting request holds no store connection: it reads the job
with a short-lived one before it parks and each time it is woken. The same notifications keep the
process's rendered job documents (service.jobs.cache) up to date, and feed the console's event
streams (`subscribe`), which learn which jobs changed rather than that one did.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from service.jobs.cache import JobDocuments
from service.store.repository import Job, listen_for_job_changes

log = logging.getLogger(__name__)

# A listener that cannot reach the store tries again after this long, doubling up to the cap.
RECONNECT_FIRST_SECONDS = 0.05
RECONNECT_MAX_SECONDS = 2.0
# How often the listener looks up from its connection to see whether it should stop.
STOP_CHECK_SECONDS = 1.0


class Subscription:
    """The job ids announced since the subscriber last looked; `EVERY_JOB` among them when the
    listener (re)connected, so any job may have changed unannounced."""

    EVERY_JOB = ""

    def __init__(self, job_id: str | None) -> None:
        self.job_id = job_id  # None: every job
        self._changed: set[str] = set()
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self.ended = False  # the server is stopping: the subscriber should stop too

    def end(self) -> None:
        self.ended = True
        self._woken.set()

    def announce(self, job_id: str | None) -> None:
        if job_id is not None and self.job_id is not None and job_id != self.job_id:
            return
        with self._lock:
            self._changed.add(self.EVERY_JOB if job_id is None else job_id)
        self._woken.set()

    def wait(self, timeout: float) -> set[str]:
        """The ids announced since the last call, waiting up to `timeout` for one; empty when none came."""
        self._woken.wait(timeout)
        with self._lock:
            self._woken.clear()
            changed, self._changed = self._changed, set()
        return changed


class JobWatcher:
    """The process's LISTEN connection and the requests waiting on each job id.

    The listener starts with the first waiter, or the first `ticket` for a cached read. Each time
    it (re)connects it wakes every waiter, so a change committed while it was not listening is read
    then rather than missed, and it empties `documents`, which it keeps only while connected. It
    stops once `stopped()` says so (the store pool closed), or on `close()`.
    """

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection],
        stopped: Callable[[], bool] = lambda: False,
        documents: JobDocuments | None = None,
        on_parked: Callable[[int], None] = lambda change: None,
    ) -> None:
        self._connect = connect
        self._on_parked = on_parked  # told +1 when a request parks, -1 when it leaves (the metrics)
        self._stopped = stopped
        self.documents = documents if documents is not None else JobDocuments(max_age=0)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._subscriptions: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        self._draining = False
        self.connections = 0  # how many times the listener has connected, for tests and metrics

    def parked(self) -> int:
        """How many requests are waiting right now."""
        with self._lock:
            return sum(len(events) for events in self._waiters.values())

    @contextmanager
    def watch(self, job_id: str) -> Iterator[threading.Event]:
        """An event set whenever the job may have changed, for as long as the block runs."""
        woken = threading.Event()
        with self._lock:
            self._waiters.setdefault(job_id, set()).add(woken)
            self._start()
        self._on_parked(1)
        try:
            yield woken
        finally:
            self._on_parked(-1)
            with self._lock:
                events = self._waiters.get(job_id)
                if events is not None:
                    events.discard(woken)
                    if not events:
                        del self._waiters[job_id]

    @contextmanager
    def subscribe(self, job_id: str | None = None) -> Iterator[Subscription]:
        """The changes to one job (or to every job, `job_id` None) for as long as the block runs."""
        subscription = Subscription(job_id)
        with self._lock:
            self._subscriptions.add(subscription)
            self._start()
            if self._draining:
                subscription.end()
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)

    def drain(self) -> None:
        """The server process is stopping: every subscription ends now, and any opened later at once,
        so open event streams do not hold the process for its graceful timeout."""
        with self._lock:
            self._draining = True
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.end()

    def ticket(self) -> int | None:
        """`documents.ticket()`, starting the listener first if it is not running (a cached read
        needs it; until it has connected there is no ticket)."""
        if not self.documents.enabled:
            return None
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._lock:
                self._start()
        return self.documents.ticket()

    def _start(self) -> None:
        """Start the listener thread unless it runs; the caller holds `_lock`."""
        if (self._thread is None or not self._thread.is_alive()) and not self._done():
            self._thread = threading.Thread(target=self._listen, name="deploy-gate-job-watcher", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closing.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_CHECK_SECONDS * 3)

    def _done(self) -> bool:
        return self._closing.is_set() or self._stopped()

    def _wake(self, job_id: str | None) -> None:
        """Wake the waiters on one job, or every waiter (job_id None)."""
        if job_id is not None:
            self.documents.changed(job_id)
        with self._lock:
            if job_id is None:
                events = [event for waiting in self._waiters.values() for event in waiting]
            else:
                events = list(self._waiters.get(job_id, ()))
            subscriptions = list(self._subscriptions)
        for event in events:
            event.set()
        for subscription in subscriptions:
            subscription.announce(job_id)

    def _listen(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while not self._done():
            try:
                with self._connect() as conn:
                    listen_for_job_changes(conn)
                    # Whatever committed before LISTEN took effect sent no notification we saw.
                    self.documents.reset(listening=True)
                    self._wake(None)
                    self.connections += 1
                    delay = RECONNECT_FIRST_SECONDS
                    while not self._done():
                        for notification in conn.notifies(timeout=STOP_CHECK_SECONDS):
                            self._wake(notification.payload)
            except Exception as error:  # noqa: BLE001 - any failure: reconnect; the class says enough, the message may name the host
                self.documents.reset(listening=False)
                if self._done():
                    break
                log.warning("job watcher lost its store connection (%s); reconnecting in %.2f s", type(error).__name__, delay)
                self._closing.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
        self.documents.reset(listening=False)


def wait_for_change(watcher: JobWatcher, read: Callable[[], Job], job: Job, timeout: float) -> Job:
    """The job as soon as its state, verdict or journal moves on, or as it is after `timeout`.

    `read` fetches the job with a connection it gives back at once; nothing is held while waiting.
    """
    deadline = time.monotonic() + timeout
    with watcher.watch(job.id) as woken:
        # Read again once registered: a change committed in between would otherwise be missed.
        current = read()
        while not _changed(job, current):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not woken.wait(remaining):
                break
            woken.clear()  # before reading, so a change during the read wakes us again
            current = read()
        return current


def _changed(before: Job, after: Job) -> bool:
    return (before.state, before.verdict, before.updated_at) != (after.state, after.verdict, after.updated_at)
