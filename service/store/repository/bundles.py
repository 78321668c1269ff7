"""Migration bundles, stored once per content and addressed by their digest."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from service.prisma.migrations import LocalMigrations, migrations_from_bundle


def bundle_digest(local: LocalMigrations) -> str:
    """Content address of a bundle: SHA-256 over each migration's name and checksum, in order."""
    digest = hashlib.sha256()
    for migration in local:
        digest.update(f"{migration.name}\0{migration.checksum}\n".encode())
    digest.update(f"provider\0{local.lock_provider or ''}".encode())
    return digest.hexdigest()


def bundle_row(local: LocalMigrations, digest: str) -> dict[str, Any]:
    """A bundle's row in the "bundle" table, its migrations as JSON-ready data."""
    return {
        "digest": digest,
        "migrations": [{"name": m.name, "script": m.script} for m in local],
        "lock_provider": local.lock_provider,
        "size_bytes": sum(len(m.script.encode()) for m in local),
    }


def store_bundle(conn: psycopg.Connection, local: LocalMigrations) -> str:
    """Keep a bundle (once per content) and return its digest."""
    digest = bundle_digest(local)
    row = bundle_row(local, digest)
    conn.execute(
        'INSERT INTO "bundle" ("digest", "migrations", "lock_provider", "size_bytes")'
        ' VALUES (%(digest)s, %(migrations)s, %(lock_provider)s, %(size_bytes)s) ON CONFLICT ("digest") DO NOTHING',
        {**row, "migrations": Jsonb(row["migrations"])},
    )
    return digest


def load_bundle(conn: psycopg.Connection, digest: str) -> LocalMigrations | None:
    row = conn.execute('SELECT "migrations", "lock_provider" FROM "bundle" WHERE "digest" = %s', (digest,)).fetchone()
    if row is None:
        return None
    migrations, provider = row
    lock_text = f'provider = "{provider}"' if provider else None
    return migrations_from_bundle([(m["name"], m["script"]) for m in migrations], lock_text)


def latest_bundle_digest(conn: psycopg.Connection, target: str) -> str | None:
    """The bundle of the most recent job on a target that carried one."""
    row = conn.execute(
        'SELECT "bundle_digest" FROM "job" WHERE "target" = %s AND "bundle_digest" IS NOT NULL ORDER BY "created_at" DESC LIMIT 1',
        (target,),
    ).fetchone()
    return str(row[0]) if row else None
