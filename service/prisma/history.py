"""All SQL against a target's `_prisma_migrations` table, written as Prisma's engine writes it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from service.prisma.errors import Prisma8Database

MIGRATIONS_TABLE = "_prisma_migrations"

_CREATE_TABLE = """
CREATE TABLE {table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class HistoryRow:
    """One row of `_prisma_migrations`."""

    id: str
    checksum: str
    finished_at: datetime | None
    migration_name: str
    logs: str | None
    rolled_back_at: datetime | None
    started_at: datetime
    applied_steps_count: int

    @property
    def is_failed(self) -> bool:
        """Prisma's definition: not finished and not rolled back. Any such row blocks deploy."""
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def is_applied(self) -> bool:
        """Finished and not rolled back: the migration counts as applied."""
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def is_rolled_back(self) -> bool:
        return self.rolled_back_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "checksum": self.checksum,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "rolled_back_at": _iso(self.rolled_back_at),
            "applied_steps_count": self.applied_steps_count,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, MIGRATIONS_TABLE)


def table_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p'))",
        (schema, MIGRATIONS_TABLE),
    ).fetchone()
    assert row is not None, "SELECT EXISTS answers exactly one row"
    return bool(row[0])


# Prisma 8 keeps its state in this table instead of _prisma_migrations (docs/prisma-8.md).
PRISMA_8_MARKER = "prisma_contract.marker"


def has_prisma_8_marker(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (PRISMA_8_MARKER,)).fetchone()
    assert row is not None, "SELECT answers exactly one row"
    return bool(row[0])


def read_history(conn: psycopg.Connection, schema: str) -> list[HistoryRow] | None:
    """Every history row in Prisma's order (`started_at`), or None when the table does not exist.

    Raises Prisma8Database on a database Prisma 8 manages: its history is not this table's.
    """
    if has_prisma_8_marker(conn):
        raise Prisma8Database()
    if not table_exists(conn, schema):
        return None
    query = sql.SQL(
        'SELECT "id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at",'
        ' "started_at", "applied_steps_count" FROM {} ORDER BY "started_at" ASC'
    ).format(_table(schema))
    with conn.cursor(row_factory=class_row(HistoryRow)) as cursor:
        return cursor.execute(query).fetchall()


def create_table(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL(_CREATE_TABLE).format(table=_table(schema)))


def tables_in_schema(conn: psycopg.Connection, schema: str) -> list[str]:
    """The ordinary tables that make a schema non-empty for Prisma's P3005 check.

    Prisma counts only tables: views, sequences and enum types alone do not stop a first deploy.
    """
    rows = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname <> %s ORDER BY c.relname",
        (schema, MIGRATIONS_TABLE),
    ).fetchall()
    return [row[0] for row in rows]


def record_migration_started(conn: psycopg.Connection, schema: str, name: str, checksum: str) -> str:
    """Insert the row of a migration about to run, committed before the script starts."""
    migration_id = str(uuid.uuid4())
    conn.execute(
        sql.SQL('INSERT INTO {} ("id", "checksum", "started_at", "migration_name") VALUES (%s, %s, now(), %s)').format(_table(schema)),
        (migration_id, checksum, name),
    )
    return migration_id


def record_successful_step(conn: psycopg.Connection, schema: str, migration_id: str) -> None:
    conn.execute(
        sql.SQL('UPDATE {} SET "applied_steps_count" = "applied_steps_count" + 1 WHERE "id" = %s').format(_table(schema)),
        (migration_id,),
    )


def record_migration_finished(conn: psycopg.Connection, schema: str, migration_id: str) -> None:
    conn.execute(
        sql.SQL('UPDATE {} SET "finished_at" = now() WHERE "id" = %s').format(_table(schema)),
        (migration_id,),
    )


def record_failed_step(conn: psycopg.Connection, schema: str, migration_id: str, logs: str) -> None:
    conn.execute(
        sql.SQL('UPDATE {} SET "logs" = %s WHERE "id" = %s').format(_table(schema)),
        (logs, migration_id),
    )


def mark_rolled_back(conn: psycopg.Connection, schema: str, migration_id: str) -> None:
    conn.execute(
        sql.SQL('UPDATE {} SET "rolled_back_at" = now() WHERE "id" = %s').format(_table(schema)),
        (migration_id,),
    )


def insert_applied(conn: psycopg.Connection, schema: str, name: str, checksum: str) -> str:
    """The finished row `resolve --applied` inserts: started and finished now, no steps, empty logs."""
    migration_id = str(uuid.uuid4())
    conn.execute(
        sql.SQL(
            'INSERT INTO {} ("id", "checksum", "started_at", "finished_at", "migration_name",'
            ' "applied_steps_count", "logs") VALUES (%s, %s, now(), now(), %s, 0, %s)'
        ).format(_table(schema)),
        (migration_id, checksum, name, ""),
    )
    return migration_id
