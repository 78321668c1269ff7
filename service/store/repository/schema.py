"""The store's own schema, brought up to date at start-up, and the probe that the store answers."""

from __future__ import annotations

from pathlib import Path

import psycopg

from service.prisma.deploy import DeployOutcome, deploy
from service.prisma.migrations import read_migrations_directory

STORE_MIGRATIONS = Path(__file__).parent.parent / "migrations"


def migrate_store(conn: psycopg.Connection, schema: str = "public") -> DeployOutcome:
    """Bring the store's schema up to date with deploy-gate's own Prisma-compatible deploy."""
    outcome = deploy(conn, schema, read_migrations_directory(STORE_MIGRATIONS))
    if outcome.failure:
        raise RuntimeError(f"the store migration {outcome.failure.migration_name} failed: {outcome.failure.message}")
    return outcome


def check_store_answers(conn: psycopg.Connection) -> None:
    """One round trip to the store; raises whatever psycopg raises when it does not answer."""
    conn.execute("SELECT 1")
