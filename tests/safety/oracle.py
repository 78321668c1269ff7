"""An audit of every write to a case's target, kept by the target itself.

A row trigger on `_prisma_migrations` and event triggers at the end of each DDL command (and on
each dropped object) log what was written, when, by which session, and which other session (if
any) held Prisma's lock 72707369 at that moment. Writing there is a violation: deploy-gate takes
that lock for every write to a target.

Why `ddl_command_end` and not `ddl_command_start`: a write at the start would give the
transaction an id before `DROP INDEX CONCURRENTLY`, which then refuses to run, so the audit would
change what it watches. Limits: data-only writes (DML) to the application's tables are not
logged, and a command that fails logs nothing (it wrote nothing that stayed).

Everything lives in its own schema, which the suite's fingerprints leave out; the trigger on the
history table is not fingerprinted either (the fingerprint ignores that table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from service.prisma.history import MIGRATIONS_TABLE
from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID

AUDIT_SCHEMA = "safety_audit"

_INSTALL = f"""
CREATE SCHEMA {AUDIT_SCHEMA};
CREATE TABLE {AUDIT_SCHEMA}.write_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    pid integer NOT NULL DEFAULT pg_backend_pid(),
    what text NOT NULL,
    prisma_lock_holder integer
);
-- A bigint advisory key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
CREATE FUNCTION {AUDIT_SCHEMA}.prisma_lock_holder() RETURNS integer LANGUAGE sql STABLE
SET search_path = pg_catalog AS $$
    SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = {PRISMA_ADVISORY_LOCK_ID >> 32} AND l.objid = {PRISMA_ADVISORY_LOCK_ID & 0xFFFFFFFF}
      AND l.objsubid = 1
    LIMIT 1
$$;
CREATE FUNCTION {AUDIT_SCHEMA}.log_history_write() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO {AUDIT_SCHEMA}.write_log (what, prisma_lock_holder)
    VALUES (TG_OP || ' history row of ' || coalesce(NEW.migration_name, OLD.migration_name), {AUDIT_SCHEMA}.prisma_lock_holder());
    RETURN NULL;
END $$;
CREATE TRIGGER safety_audit_history AFTER INSERT OR UPDATE OR DELETE ON public.{MIGRATIONS_TABLE}
    FOR EACH ROW EXECUTE FUNCTION {AUDIT_SCHEMA}.log_history_write();
CREATE FUNCTION {AUDIT_SCHEMA}.log_ddl() RETURNS event_trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO {AUDIT_SCHEMA}.write_log (what, prisma_lock_holder)
    SELECT command_tag || ' ' || coalesce(object_identity, ''), {AUDIT_SCHEMA}.prisma_lock_holder()
    FROM pg_event_trigger_ddl_commands();
END $$;
CREATE FUNCTION {AUDIT_SCHEMA}.log_drop() RETURNS event_trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO {AUDIT_SCHEMA}.write_log (what, prisma_lock_holder)
    SELECT 'DROP ' || object_type || ' ' || coalesce(object_identity, ''), {AUDIT_SCHEMA}.prisma_lock_holder()
    FROM pg_event_trigger_dropped_objects() WHERE original;
END $$;
CREATE EVENT TRIGGER safety_audit_ddl ON ddl_command_end EXECUTE FUNCTION {AUDIT_SCHEMA}.log_ddl();
CREATE EVENT TRIGGER safety_audit_drop ON sql_drop EXECUTE FUNCTION {AUDIT_SCHEMA}.log_drop();
"""


@dataclass(frozen=True)
class Write:
    at: datetime
    pid: int
    what: str
    prisma_lock_holder: int | None

    def __str__(self) -> str:
        holder = f" while pid {self.prisma_lock_holder} held Prisma's lock" if self.prisma_lock_holder else ""
        return f"{self.at.time().isoformat()} pid {self.pid}: {self.what}{holder}"


def install_audit(conn: psycopg.Connection) -> None:
    conn.execute(_INSTALL.encode("utf-8"))


def writes_since(conn: psycopg.Connection, since: datetime) -> list[Write]:
    rows = conn.execute(f"SELECT at, pid, what, prisma_lock_holder FROM {AUDIT_SCHEMA}.write_log WHERE at >= %s ORDER BY id", (since,)).fetchall()
    return [Write(*row) for row in rows]


def server_time(conn: psycopg.Connection) -> datetime:
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]
