"""The shadow's replay of a target's history, cached as template databases on the shadow server.

What a migration really produces is what PostgreSQL makes of it, so the ground truth for "this
migration's effects are present, of the right shape" is a replay: the history applied with
deploy-gate's own `deploy` to a database on the shadow server (never the target). Replays are
kept as template databases named by the SHA-256 of the schema and the names and checksums of the
migrations they hold, so a replay is reused for as long as that history is the same, by any job
on any machine, and a longer history is built from the longest replay already there, applying
only the migrations after it. A job that needs a copy clones one with `CREATE DATABASE … TEMPLATE`.

A replay is built under a temporary name and renamed once complete, so a template either holds
its whole history or does not exist. Each template's comment says what it holds, for the person
who lists the shadow's databases; the oldest templates of a label (a target) beyond
`KEEP_TEMPLATES` are dropped.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from threading import Lock

import psycopg
from psycopg import errors, sql

from service.analysis.fingerprint import Fingerprint, catalog_fingerprint
from service.prisma.database import DatabaseTarget, connect
from service.prisma.deploy import deploy
from service.prisma.errors import MigrateError
from service.prisma.migrations import LocalMigrations

TEMPLATE_PREFIX = "dg_replay_"
_BUILDING_PREFIX = "dg_replay_tmp_"
_CLONE_PREFIX = "dg_clone_"
KEEP_TEMPLATES = 6
# A template being read or cloned by another session cannot be cloned at that moment (55006).
_CLONE_ATTEMPTS = 20
_CLONE_RETRY_SECONDS = 0.25
_LOOKUP_ATTEMPTS = 3


class ReplayFailed(MigrateError):
    """A migration of the history failed on the shadow: there is no replay to compare with."""


class ShadowUnusable(MigrateError):
    """The shadow server refused to create a scratch database (reaching it at all is CannotConnect).

    Prisma's code for a shadow database it cannot create (`migrate dev`'s shadow database).
    """

    code = "P3014"


class TemplateGone(ShadowUnusable):
    """The template to copy was dropped meanwhile (templates are shared by history, pruned by label)."""


@dataclass(frozen=True)
class Replay:
    """The schema the first `count` migrations produce, as a template on the shadow server."""

    template: str
    count: int
    fingerprint: Fingerprint
    built: bool = False  # this call built the template (False: it was there already)


class ReplayCache:
    """Replays of one target's history on its shadow server; see the module docstring."""

    def __init__(self, shadow: DatabaseTarget, schema: str, label: str) -> None:
        self.shadow = shadow
        self.schema = schema
        self.label = label

    def replay(self, local: LocalMigrations, count: int) -> Replay:
        """The replay of the first `count` migrations of `local`, built if no template holds it.

        Raises ReplayFailed when one of them fails on the shadow.
        """
        keys = history_keys(local, self.schema)
        for attempt in range(_LOOKUP_ATTEMPTS):
            try:
                return self._replay(local, count, keys)
            except TemplateGone:
                # Another label's prune dropped a template between the look and the clone: look again.
                if attempt == _LOOKUP_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _replay(self, local: LocalMigrations, count: int, keys: list[str]) -> Replay:
        name = keys[count]
        with connect(self.shadow) as admin:
            existing = {row[0] for row in admin.execute("SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY(%s)", (keys[: count + 1],))}
            if name not in existing:
                base = next((k for k in range(count - 1, -1, -1) if keys[k] in existing), None)
                fingerprint = self._build(admin, local, count, name, keys[base] if base is not None else None)
                self._prune(admin, keep=name)
                return Replay(name, count, fingerprint, built=True)
        return Replay(name, count, self._fingerprint(name))

    def copy(self, template: str, name: str) -> DatabaseTarget:
        """A new database `name` on the shadow server, a copy of a template; the caller drops it."""
        with connect(self.shadow) as admin:
            _create_from(admin, name, template, self.shadow.display)
        return self._database(name)

    @contextmanager
    def clone(self, template: str) -> Iterator[DatabaseTarget]:
        """A scratch copy of a template, dropped afterwards whatever happens."""
        name = f"{_CLONE_PREFIX}{uuid.uuid4().hex[:16]}"
        copy = self.copy(template, name)
        try:
            yield copy
        finally:
            with connect(self.shadow) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _database(self, name: str) -> DatabaseTarget:
        return DatabaseTarget(params={**self.shadow.params, "dbname": name}, schema=self.schema, display=f"shadow database {name}")

    def _build(self, admin: psycopg.Connection, local: LocalMigrations, count: int, name: str, base: str | None) -> Fingerprint:
        building = f"{_BUILDING_PREFIX}{uuid.uuid4().hex[:16]}"
        # template0 when nothing is cached: a clean database, whatever someone installed in template1.
        _create_from(admin, building, base or "template0", self.shadow.display)
        try:
            with connect(self._database(building)) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
                outcome = deploy(conn, self.schema, replace(local, migrations=local.migrations[:count]))
                if outcome.failure is not None:
                    failure = outcome.failure
                    raise ReplayFailed(
                        f"{failure.migration_name} fails on the shadow server ({failure.sqlstate or 'no SQLSTATE'}: {failure.message})",
                        migration_name=failure.migration_name,
                        sqlstate=failure.sqlstate,
                        error=failure.message,
                    )
                fingerprint = catalog_fingerprint(conn, schemas=None)
            try:
                admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name)))
            except errors.DuplicateDatabase:
                return self._fingerprint(name)  # another job built the same replay meanwhile
            building = ""
            admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(name)))
            comment = {
                "label": self.label,
                "schema": self.schema,
                "migrations": count,
                "last": local.names[count - 1] if count else None,
                "built_at": datetime.now(UTC).isoformat(),
            }
            admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(json.dumps(comment))))
        finally:
            if building:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building)))
        _FINGERPRINTS.put(self._cache_key(name), fingerprint)
        return fingerprint

    def _fingerprint(self, template: str) -> Fingerprint:
        """A template's fingerprint: from this process's memory, else read on a clone (never on the
        template itself, so that no session holds it while another job clones it)."""
        key = self._cache_key(template)
        cached = _FINGERPRINTS.get(key)
        if cached is None:
            with self.clone(template) as copy, connect(copy) as conn:
                cached = catalog_fingerprint(conn, schemas=None)
            _FINGERPRINTS.put(key, cached)
        return cached

    def _cache_key(self, template: str) -> tuple[str, ...]:
        params = self.shadow.params
        return (params.get("host", ""), params.get("port", ""), template)

    def _prune(self, admin: psycopg.Connection, keep: str) -> None:
        """Drop this label's oldest templates beyond KEEP_TEMPLATES; one in use stays for now."""
        rows = admin.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database WHERE datname LIKE %s",
            (TEMPLATE_PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
        mine = []
        for datname, comment in rows:
            if datname.startswith(_BUILDING_PREFIX):
                continue
            try:
                described = json.loads(comment or "{}")
            except ValueError:
                continue
            if described.get("label") == self.label:
                mine.append((described.get("built_at", ""), datname))
        for _, datname in sorted(mine, reverse=True)[KEEP_TEMPLATES:]:
            if datname == keep:
                continue
            try:
                admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(datname)))
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(datname)))
            except psycopg.Error:
                pass  # in use by a clone right now: the next build prunes it


def history_keys(local: LocalMigrations, schema: str) -> list[str]:
    """Template names for each prefix of the history: index k holds the first k migrations."""
    digest = hashlib.sha256(f"deploy-gate replay v1\nschema {schema}\n".encode())
    keys = [TEMPLATE_PREFIX + digest.hexdigest()[:32]]
    for migration in local.migrations:
        digest.update(f"{migration.name} {migration.checksum}\n".encode())
        keys.append(TEMPLATE_PREFIX + digest.copy().hexdigest()[:32])
    return keys


def _create_from(admin: psycopg.Connection, name: str, template: str, display: str) -> None:
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    for attempt in range(_CLONE_ATTEMPTS):
        try:
            admin.execute(statement)
            return
        except errors.InvalidCatalogName:
            raise TemplateGone(f"Cannot create a scratch database on {display}: the template {template} was dropped meanwhile") from None
        except errors.ObjectInUse:
            if attempt == _CLONE_ATTEMPTS - 1:
                raise ShadowUnusable(f"Cannot create a scratch database on {display}: the template {template} stayed in use by another session") from None
            time.sleep(_CLONE_RETRY_SECONDS)
        except psycopg.Error as error:
            message = (error.diag.message_primary if error.diag else None) or str(error).strip()
            raise ShadowUnusable(f"Cannot create a scratch database on {display}: {message}") from None


class _Fingerprints:
    """Fingerprints of templates this process has read; a template never changes once built."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, ...], Fingerprint] = OrderedDict()
        self.lock = Lock()

    def get(self, key: tuple[str, ...]) -> Fingerprint | None:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
            return self.entries.get(key)

    def put(self, key: tuple[str, ...], fingerprint: Fingerprint) -> None:
        with self.lock:
            self.entries[key] = fingerprint
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_FINGERPRINTS = _Fingerprints(64)
