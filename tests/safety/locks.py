"""Sessions that hold locks on a case's target, and the signals that make them let go.

A held lock is released on a signal, never after a sleep: when PostgreSQL shows another session
waiting on it (`pg_blocking_pids`), when the job journals a step about waiting, or when the job
defers (what its Celery task would turn into a later run). A watcher thread polls those signals
with its own connections; the main thread tells it about deferrals and the end of the job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Self

import psycopg

from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID
from service.store import repository
from tests.conftest import ScratchDatabase
from tests.safety.cases import (
    RELEASE_AFTER_FAILURE,
    RELEASE_ON_WAIT,
    HeldLock,
    ident,
)

POLL_SECONDS = 0.02


class LockSession:
    """Another session on the target holding one lock until released.

    `waits_needed`: how many distinct waits on this session (a waiting pid and its statement's
    start) make it let go; None: waits never do. A single wait longer than `unbounded_after`
    seconds is one no policy bounds: the session records it (a finding) and lets go, so the
    case ends.
    """

    def __init__(self, label: str, waits_needed: int | None, on_wait_step: bool, unbounded_after: float) -> None:
        self.label = label
        self.waits_needed = waits_needed
        self.on_wait_step = on_wait_step
        self.unbounded_after = unbounded_after
        self.conn: psycopg.Connection | None = None
        self.pid: int | None = None
        # (waiting pid, its statement's start) → when the watcher first saw it waiting
        self.waits: dict[tuple[int, object], float] = {}
        self.unbounded_wait: str | None = None
        self.held_from: datetime | None = None
        self.released_at: datetime | None = None
        self._guard = threading.Lock()

    @property
    def holding(self) -> bool:
        return self.conn is not None

    def _taken(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.pid, self.held_from = conn.execute("SELECT pg_backend_pid(), clock_timestamp()").fetchone()

    def release(self) -> None:
        with self._guard:
            if self.conn is None:
                return
            conn, self.conn = self.conn, None
            try:
                self.released_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
                conn.rollback()
            finally:
                conn.close()

    def note_waiters(self, watcher_conn: psycopg.Connection) -> None:
        if self.pid is None or not self.holding:
            return
        rows = watcher_conn.execute(
            "SELECT pid, query_start, query FROM pg_catalog.pg_stat_activity WHERE %s = ANY(pg_catalog.pg_blocking_pids(pid))",
            (self.pid,),
        ).fetchall()
        now = time.monotonic()
        for pid, started, query in rows:
            first_seen = self.waits.setdefault((pid, started), now)
            if now - first_seen > self.unbounded_after and self.unbounded_wait is None:
                self.unbounded_wait = f"pid {pid} waited on {self.label} for over {self.unbounded_after:g} s: {' '.join(query.split())[:300]}"
                self.release()
        if self.waits_needed is not None and len(self.waits) >= self.waits_needed:
            self.release()


class TableLock(LockSession):
    """`LOCK TABLE … IN <mode> MODE` inside an open transaction, as a long query would hold it."""

    def __init__(self, database: ScratchDatabase, lock: HeldLock, unbounded_after: float) -> None:
        # The deploy's own attempt is the first wait; "released" lets go when the engine comes back.
        waits_needed = 2 if lock.release == RELEASE_ON_WAIT else None
        super().__init__(f"{lock.mode} on {ident(*lock.table)}", waits_needed, lock.release == RELEASE_ON_WAIT, unbounded_after)
        self.lock = lock
        conn = psycopg.connect(database.conninfo)
        conn.execute(f"LOCK TABLE {ident(*lock.table)} IN {lock.mode} MODE")
        self._taken(conn)


class PrismaLock(LockSession):
    """Prisma's session lock 72707369, as a `prisma migrate deploy` on another machine holds it."""

    def __init__(self, database: ScratchDatabase, unbounded_after: float) -> None:
        super().__init__("Prisma's lock 72707369", waits_needed=1, on_wait_step=True, unbounded_after=unbounded_after)
        self.database = database

    def take(self) -> None:
        conn = psycopg.connect(self.database.conninfo, autocommit=True)
        conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        self._taken(conn)

    def release(self) -> None:
        with self._guard:
            if self.conn is not None:
                self.released_at = self.conn.execute("SELECT clock_timestamp()").fetchone()[0]
                self.conn.close()  # ending the session ends its advisory lock
                self.conn = None


class LockWatcher:
    """Polls the target and the job journal for the signals that release the held locks."""

    def __init__(self, database: ScratchDatabase, store_conninfo: str, target_name: str, sessions: list[LockSession]) -> None:
        self.database = database
        self.store_conninfo = store_conninfo
        self.target_name = target_name
        self.sessions = sessions
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.wait_steps: list[str] = []
        self.thread = threading.Thread(target=self._run, name=f"locks-{target_name}", daemon=True)

    def __enter__(self) -> Self:
        if self.sessions:
            self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for session in self.sessions:
            session.release()

    def deferred(self) -> None:
        """The job deferred itself to wait: what a lock holder released on a wait lets go on."""
        for session in self.sessions:
            if session.on_wait_step:
                session.release()

    def _run(self) -> None:
        try:
            with psycopg.connect(self.database.conninfo, autocommit=True) as target, \
                    psycopg.connect(self.store_conninfo, autocommit=True) as store:
                seen: dict[str, int] = {}
                while not self.stop.is_set():
                    for session in self.sessions:
                        session.note_waiters(target)
                    if self._journal_shows_a_wait(store, seen):
                        self.deferred()
                    time.sleep(POLL_SECONDS)
        except BaseException as error:  # noqa: BLE001 - raised again by the case, never lost in a thread
            self.error = error

    def _journal_shows_a_wait(self, store: psycopg.Connection, seen: dict[str, int]) -> bool:
        waiting = False
        for job in repository.list_jobs(store, target=self.target_name):
            events = repository.job_events(store, str(job.id), after_id=seen.get(str(job.id), 0))
            for event in events:
                seen[str(job.id)] = event.id
                if event.step and "wait" in event.step and event.kind == "step_started":
                    self.wait_steps.append(event.step)
                    waiting = True
        return waiting


def sessions_for(
    database: ScratchDatabase, lock: HeldLock | None, prisma_lock: str | None, table_wait_bound: float, prisma_wait_bound: float,
) -> tuple[list[LockSession], Callable[[], None]]:
    """The lock sessions a case needs, and what to do once the deploy's failure is journaled."""
    sessions: list[LockSession] = []
    table = TableLock(database, lock, table_wait_bound) if lock else None
    prisma = PrismaLock(database, prisma_wait_bound) if prisma_lock else None
    sessions += [session for session in (table, prisma) if session is not None]
    if prisma and prisma_lock == "at-deploy":
        prisma.take()

    def after_failure() -> None:
        if table and table.lock.release == RELEASE_AFTER_FAILURE:
            table.release()
        if prisma and prisma_lock == "during-recovery" and prisma.held_from is None:
            prisma.take()

    return sessions, after_failure
