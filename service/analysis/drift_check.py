"""Check a target for drift: its applied history replayed on the shadow server, compared with its catalog.

Only the applied history is replayed: the migrations whose history row is finished and not rolled
back, in the order the history has them (`started_at`). A pending migration is not drift, nor is
one rolled back. The replay comes from the target's cache of template databases
(service.analysis.replay): built once per history, on any machine, and reused until the history
changes. The template's fingerprint is the fingerprint of any clone of it, so the comparison needs
no clone of its own; a step that works on a clone (a rehearsal) passes its fingerprints to
service.analysis.drift.compare_catalogs the same way.

The target is read twice: its history, then (after the replay is ready, which may take a while)
its history again with its catalog, in one snapshot. A history that changed in between (a deploy
ran meanwhile) is replayed again, so the catalog is always compared with the history it goes with.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

import psycopg

from service.analysis.drift import Drift, compare_catalogs, drift_schemas
from service.analysis.drift_ignore import IgnoreRule
from service.analysis.fingerprint import catalog_fingerprint
from service.analysis.replay import ReplayCache
from service.prisma.errors import MigrateError
from service.prisma.history import read_history
from service.prisma.migrations import LocalMigrations

# A history that changes under the check this many times in a row: someone deploys without pause.
_ATTEMPTS = 3


class DriftNotChecked(MigrateError):
    """The history cannot be replayed from the migrations at hand: drift cannot be told."""


@dataclass(frozen=True)
class AppliedHistory:
    """The applied migrations, in history order, as the files at hand hold them."""

    migrations: LocalMigrations
    notes: tuple[str, ...] = ()
    has_history: bool = True

    @property
    def names(self) -> list[str]:
        return self.migrations.names


@dataclass(frozen=True)
class DriftCheck:
    drift: Drift
    applied: tuple[str, ...]
    template: str
    replay_built: bool
    notes: tuple[str, ...]
    seconds: float

    @property
    def drifted(self) -> bool:
        return self.drift.drifted

    def to_dict(self) -> dict[str, object]:
        return {
            "checked": True,
            **self.drift.to_dict(),
            "applied": list(self.applied),
            "replay": {"template": self.template, "built": self.replay_built},
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def applied_history(conn: psycopg.Connection, schema: str, local: LocalMigrations) -> AppliedHistory:
    """The applied history of the target, with each migration's file from `local`.

    Raises DriftNotChecked when an applied migration has no file in `local`: without it there is
    nothing to replay.
    """
    rows = read_history(conn, schema)
    if rows is None:
        return AppliedHistory(replace(local, migrations=()), has_history=False)
    chosen = []
    missing = []
    notes = []
    seen: set[str] = set()
    for row in rows:
        if not row.is_applied or row.migration_name in seen:
            continue
        seen.add(row.migration_name)
        migration = local.get(row.migration_name)
        if migration is None:
            missing.append(row.migration_name)
            continue
        if not migration.matches_checksum(row.checksum):
            notes.append(f"{row.migration_name} was edited after it was applied: the replay runs the file as it is now")
        chosen.append(migration)
    if missing:
        raise DriftNotChecked(
            f"applied on the target but not in {local.source}: {', '.join(missing)}; drift needs every applied migration's file",
            missing=missing,
        )
    return AppliedHistory(replace(local, migrations=tuple(chosen)), tuple(notes))


def check_drift(conn: psycopg.Connection, schema: str, local: LocalMigrations, replays: ReplayCache, ignore: Iterable[IgnoreRule] = ()) -> DriftCheck:
    """Compare the target behind `conn` with the replay of its applied history (module docstring).

    Raises DriftNotChecked, ReplayFailed (a migration of the history fails on the shadow), and
    CannotConnect or ShadowUnusable when the shadow server cannot be used.
    """
    started = time.perf_counter()
    rules = tuple(ignore)
    history = applied_history(conn, schema, local)
    for _ in range(_ATTEMPTS):
        replay = replays.replay(history.migrations, len(history.migrations))
        schemas = drift_schemas(replay.fingerprint, schema)
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            now = applied_history(conn, schema, local)
            live = catalog_fingerprint(conn, schemas)
        if now.names == history.names:
            break
        history = now
    else:
        raise DriftNotChecked(f"the history changed {_ATTEMPTS} times while drift was checked: a deploy is running; check again once it is done")
    if not history.has_history and schema not in live.schemas:
        # Nothing was ever deployed here: Prisma creates the schema with the first migration.
        schemas = [name for name in schemas if name != schema]
    drift = compare_catalogs(replay.fingerprint, live, home=schema, schemas=schemas, ignore=rules)
    return DriftCheck(drift, tuple(history.names), replay.template, replay.built, history.notes, time.perf_counter() - started)
