"""Small helpers for tests that arrange a target's history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID


def history_rows(conn: psycopg.Connection, schema: str = "public") -> list[dict]:
    cursor = conn.execute(
        f'SELECT * FROM "{schema}"."_prisma_migrations" ORDER BY started_at',
        prepare=False,
    )
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def lock_held_elsewhere(conninfo: str, application_name: str = "other-deployer") -> Iterator[int]:
    """Hold Prisma's advisory lock from another session; yield that session's pid."""
    with psycopg.connect(conninfo, autocommit=True, application_name=application_name) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
        yield other.info.backend_pid


@contextmanager
def release_after(conninfo: str, seconds: float) -> Iterator[int]:
    """Hold the lock from another session and let it go after `seconds`, from a thread."""
    ready = threading.Event()
    pid: list[int] = []

    def hold() -> None:
        with psycopg.connect(conninfo, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
            pid.append(other.info.backend_pid)
            ready.set()
            other.execute("SELECT pg_sleep(%s)", (seconds,))

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(10)
    try:
        yield pid[0]
    finally:
        thread.join()
