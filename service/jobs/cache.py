"""Rendered job documents, kept per process until their job changes.

A `GET /v1/jobs/{id}` that finds its document here answers without a store round trip. An entry
lives only while the process's LISTEN connection is up (service.jobs.watch): every write to a job
sends a notification when it commits, and the notification drops the entry. Entries also expire
after `max_age` seconds, a bound on staleness should a connection die without the listener
noticing. A read in another process may therefore trail a commit by the time its notification
takes to arrive; long-polls and writes always read the store.

A reader takes a `ticket` before it reads the store and hands it back with what it read: should
the job change (or the listener reconnect) in between, the read may be older than the change and
is not kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A reader's ticket is refused once this many jobs changed since the last reset (the record of
# which jobs changed when is cleared then, so it cannot grow without bound).
MAX_TRACKED_CHANGES = 10_000


@dataclass(frozen=True)
class CachedJob:
    job: Any  # service.store.repository.Job, as the store returned it
    body: bytes  # the response document, rendered once
    stored_at: float


class JobDocuments:
    """A bounded LRU of rendered job documents, invalidated by the process's job notifications."""

    def __init__(self, max_age: float, max_bytes: int = 16 * 1024 * 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CachedJob] = OrderedDict()
        self._bytes = 0
        self._listening = False
        self._generation = 0  # moves on with every change and reset
        self._floor = 0  # tickets older than the last reset are refused
        self._changed_at: dict[str, int] = {}  # job id → generation of its last change
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    def get(self, job_id: str) -> CachedJob | None:
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is not None and self._clock() - entry.stored_at < self.max_age:
                self._entries.move_to_end(job_id)
                self.hits += 1
                return entry
            if entry is not None:
                self._drop(job_id)
            self.misses += 1
            return None

    def ticket(self) -> int | None:
        """Take before reading the store; None when nothing read now may be kept."""
        with self._lock:
            return self._generation if self._listening and self.enabled else None

    def put(self, job_id: str, ticket: int | None, job: Any, body: bytes) -> CachedJob:
        """Keep what was read under `ticket`, unless the job changed since; returns the entry either way."""
        entry = CachedJob(job, body, self._clock())
        if ticket is None or len(body) > self.max_bytes // 16:
            return entry
        with self._lock:
            if not self._listening or ticket < self._floor or self._changed_at.get(job_id, -1) > ticket:
                return entry
            self._drop(job_id)
            self._entries[job_id] = entry
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return entry

    def changed(self, job_id: str) -> None:
        """A job's notification arrived: its document is out of date, and so is any read in flight."""
        with self._lock:
            self._generation += 1
            self._drop(job_id)
            if len(self._changed_at) >= MAX_TRACKED_CHANGES:
                self._changed_at.clear()
                self._floor = self._generation
            self._changed_at[job_id] = self._generation

    def reset(self, *, listening: bool) -> None:
        """The listener (re)connected or lost its connection: changes may have gone unseen."""
        with self._lock:
            self._listening = listening
            self._generation += 1
            self._floor = self._generation
            self._changed_at.clear()
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop(self, job_id: str) -> None:
        entry = self._entries.pop(job_id, None)
        if entry is not None:
            self._bytes -= len(entry.body)
