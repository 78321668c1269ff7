"""Prisma's migration lock: session advisory lock 72707369, and who holds it.

Prisma's deploy and both resolve commands take this lock; status does not. deploy-gate takes the
same lock for every write to a target, so it never races a running `prisma migrate deploy`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from service.prisma import DEFAULT_LOCK_WAIT_SECONDS
from service.prisma.database import current_setting
from service.prisma.errors import AdvisoryLockTimeout

PRISMA_ADVISORY_LOCK_ID = 72707369
_QUERY_PREVIEW_CHARS = 300
# A statement that sets a password, or names a connection string (dblink, postgres_fdw), must not
# reach a report through the holder's query text.
_PASSWORD_LITERAL = re.compile(r"(PASSWORD\s+)('(?:[^']|'')*'|\S+)", re.IGNORECASE)
_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)(''.*?''|'(?:[^'\\]|\\.)*'|[^\s']+)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@']+@", re.IGNORECASE)

# A bigint advisory key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
_HOLDER_QUERY = """
SELECT a.pid, a.application_name, a.usename AS user_name, host(a.client_addr) AS client_address,
       a.backend_start AS session_started_at, a.query_start AS query_started_at,
       a.state, a.query,
       ARRAY(SELECT w.pid FROM pg_catalog.pg_locks w
             WHERE w.locktype = 'advisory' AND w.database = l.database
               AND w.classid = l.classid AND w.objid = l.objid AND w.objsubid = l.objsubid
               AND NOT w.granted ORDER BY w.pid) AS waiting_pids
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = %(high)s AND l.objid = %(low)s AND l.objsubid = 1
"""


@dataclass(frozen=True)
class LockHolder:
    """The session holding Prisma's migration lock, as pg_stat_activity shows it."""

    pid: int
    application_name: str | None
    user_name: str | None
    client_address: str | None
    session_started_at: datetime | None
    query_started_at: datetime | None
    state: str | None
    query: str | None
    waiting_pids: list[int]

    def __str__(self) -> str:
        app = f" ({self.application_name})" if self.application_name else ""
        since = f", connected since {self.session_started_at.isoformat()}" if self.session_started_at else ""
        query = f", last query: {self.query_preview!r}" if self.query_preview else ""
        return f"pid {self.pid}{app}{since}{query}"

    @property
    def query_preview(self) -> str | None:
        return preview_query(self.query)

    def to_dict(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "application_name": self.application_name,
            "user": self.user_name,
            "client_address": self.client_address,
            "session_started_at": self.session_started_at.isoformat() if self.session_started_at else None,
            "query_started_at": self.query_started_at.isoformat() if self.query_started_at else None,
            "state": self.state,
            "query": self.query_preview,
            "waiting_pids": list(self.waiting_pids),
        }


def preview_query(query: str | None, limit: int = _QUERY_PREVIEW_CHARS) -> str | None:
    """Another session's SQL for a report: on one line, passwords masked, at most `limit` characters."""
    if not query:
        return None
    text = _PASSWORD_LITERAL.sub(r"\1'****'", " ".join(query.split()))
    text = _URL_CREDENTIALS.sub(r"\1****@", _CONNINFO_PASSWORD.sub(r"\1****", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def find_lock_holder(conn: psycopg.Connection, lock_id: int = PRISMA_ADVISORY_LOCK_ID) -> LockHolder | None:
    """The session holding the lock in this database right now, if any."""
    with conn.cursor(row_factory=class_row(LockHolder)) as cursor:
        return cursor.execute(_HOLDER_QUERY, {"high": lock_id >> 32, "low": lock_id & 0xFFFFFFFF}).fetchone()


@contextmanager
def advisory_lock(
    conn: psycopg.Connection,
    wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    lock_id: int = PRISMA_ADVISORY_LOCK_ID,
) -> Iterator[None]:
    """Hold Prisma's session lock for the block, waiting at most `wait_seconds` for it.

    The wait is PostgreSQL's own `lock_timeout`, so waiters queue fairly behind the holder
    instead of polling; on timeout the error names the holder.
    """
    previous = current_setting(conn, "lock_timeout")
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(wait_seconds * 1000))}ms",))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
    except psycopg.errors.LockNotAvailable:
        raise AdvisoryLockTimeout(wait_seconds, find_lock_holder(conn, lock_id)) from None
    finally:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (previous,))
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
