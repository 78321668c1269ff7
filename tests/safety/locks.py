"""Sessions that hold locks on a case's target, and the signals that make them let go.

A held lock is released on a signal, never after a sleep. A session "released on a wait" is armed
once the deploy's failure is journaled (for Prisma's lock: once taken) and then lets go at the
first sign that the engine waits for it: PostgreSQL shows a session blocked by it
(`pg_blocking_pids`), the job journals a step about waiting, or the job defers (what its Celery
task would turn into a later run). A watcher thread polls the first two with its own connections;
the main thread reports deferrals and the deploy's failure. Other sessions hold on until the job
has settled, so retries run out.

A single wait on a held lock longer than every bound the policy (or the migration file) sets is a
wait nothing bounds: the session records it as a finding and lets go, so the case still ends.
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
from tests.safety.cases import RELEASE_AFTER_FAILURE, RELEASE_ON_WAIT, HeldLock
from tests.safety.corpus import ident

POLL_SECONDS = 0.02


class LockSession:
    """Another session on the target holding one lock until released."""

    def __init__(self, label: str, release_on_wait: bool, unbounded_after: float) -> None:
        self.label = label
        self.release_on_wait = release_on_wait
        self.unbounded_after = unbounded_after
        self.conn: psycopg.Connection | None = None
        self.pid: int | None = None
        self.armed_at: float | None = None
        # (waiting pid, its statement's start) → when the watcher first saw it waiting
        self.waits: dict[tuple[int, object], float] = {}
        self.unbounded_wait: str | None = None
        self.held_from: datetime | None = None
        self.released_at: datetime | None = None
        self._guard = threading.Lock()

    def _taken(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.pid, self.held_from = conn.execute("SELECT pg_backend_pid(), clock_timestamp()").fetchone()

    def arm(self) -> None:
        self.armed_at = time.monotonic()

    def release(self) -> None:
        with self._guard:
            if self.conn is None:
                return
            conn, self.conn = self.conn, None
            try:
                self.released_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
                conn.rollback()
            finally:
                conn.close()  # ending the session also ends a session-level advisory lock

    def engine_waits(self) -> None:
        """A sign that the engine waits for this lock."""
        if self.release_on_wait and self.armed_at is not None:
            self.release()

    def note_waiters(self, watcher: psycopg.Connection) -> None:
        if self.conn is None:
            return
        rows = watcher.execute(
            "SELECT pid, query_start, query FROM pg_catalog.pg_stat_activity WHERE %s = ANY(pg_catalog.pg_blocking_pids(pid))",
            (self.pid,),
        ).fetchall()
        now = time.monotonic()
        for pid, started, query in rows:
            first_seen = self.waits.setdefault((pid, started), now)
            if now - first_seen > self.unbounded_after and self.unbounded_wait is None:
                self.unbounded_wait = f"pid {pid} waited on {self.label} for over {self.unbounded_after:g} s: {' '.join(query.split())[:300]}"
                self.release()
            if self.armed_at is not None and first_seen >= self.armed_at:
                self.engine_waits()

    def describe(self) -> str:
        held = f"held from {self.held_from.time().isoformat()}" if self.held_from else "never held"
        released = f", released {self.released_at.time().isoformat()}" if self.released_at else ""
        return f"{self.label}: {held}{released}, {len(self.waits)} waits seen"


class TableLock(LockSession):
    """`LOCK TABLE … IN <mode> MODE` inside an open transaction, as a long query would hold it."""

    def __init__(self, database: ScratchDatabase, lock: HeldLock, unbounded_after: float) -> None:
        super().__init__(f"{lock.mode} on {ident(*lock.table)}", lock.release == RELEASE_ON_WAIT, unbounded_after)
        self.lock = lock
        conn = psycopg.connect(database.conninfo)
        conn.execute(f"LOCK TABLE {ident(*lock.table)} IN {lock.mode} MODE")
        self._taken(conn)


class PrismaLock(LockSession):
    """Prisma's session lock 72707369, as a `prisma migrate deploy` on another machine holds it."""

    def __init__(self, database: ScratchDatabase, unbounded_after: float) -> None:
        super().__init__("Prisma's lock 72707369", release_on_wait=True, unbounded_after=unbounded_after)
        self.database = database

    def take(self) -> None:
        conn = psycopg.connect(self.database.conninfo, autocommit=True)
        conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        self._taken(conn)
        self.arm()


class LockWatcher:
    """Polls the target and the job journal for the signals that release the held locks."""

    def __init__(self, database: ScratchDatabase, store_conninfo: str, target_name: str, sessions: list[LockSession]) -> None:
        self.database = database
        self.store_conninfo = store_conninfo
        self.target_name = target_name
        self.sessions = sessions
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"locks-{target_name}", daemon=True)

    def __enter__(self) -> Self:
        if self.sessions:
            self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for session in self.sessions:
            session.release()

    def engine_waits(self) -> None:
        for session in self.sessions:
            session.engine_waits()

    def _run(self) -> None:
        try:
            with psycopg.connect(self.database.conninfo, autocommit=True) as target, psycopg.connect(self.store_conninfo, autocommit=True) as store:
                seen: dict[str, int] = {}
                while not self.stop.is_set():
                    for session in self.sessions:
                        session.note_waiters(target)
                    if self._journal_shows_a_wait(store, seen):
                        self.engine_waits()
                    time.sleep(POLL_SECONDS)
        except BaseException as error:  # noqa: BLE001 - raised again by the case, never lost in a thread
            self.error = error

    def _journal_shows_a_wait(self, store: psycopg.Connection, seen: dict[str, int]) -> bool:
        waiting = False
        for job in repository.list_jobs(store, target=self.target_name):
            job_id = str(job.id)
            for event in repository.job_events(store, job_id, after_id=seen.get(job_id, 0)):
                seen[job_id] = event.id
                waiting |= event.kind == "step_started" and "wait" in (event.step or "")
        return waiting


def sessions_for(
    database: ScratchDatabase,
    lock: HeldLock | None,
    prisma_lock: str | None,
    table_wait_bound: float,
    prisma_wait_bound: float,
) -> tuple[list[LockSession], Callable[[], None]]:
    """The lock sessions a case needs, and what to do once the deploy's failure is journaled."""
    table = TableLock(database, lock, table_wait_bound) if lock else None
    prisma = PrismaLock(database, prisma_wait_bound) if prisma_lock else None
    if prisma and prisma_lock == "at-deploy":
        prisma.take()

    def after_failure() -> None:
        if table and table.lock.release == RELEASE_AFTER_FAILURE:
            table.release()
        if table:
            table.arm()
        if prisma and prisma_lock == "during-recovery" and prisma.held_from is None:
            prisma.take()

    return [session for session in (table, prisma) if session is not None], after_failure
