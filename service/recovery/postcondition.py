"""The check before a job says `proceed`: what it applied or marked applied is really there.

Whatever path led to `proceed` (a clean deploy, a retry, a migration marked applied), every
migration the job settled must have each of its effects present, of the shape the migration gives
it, and usable (no INVALID or unready index). This is the safety net under the decision table.

With a shadow server, the ground truth is the replay of the history: the objects those migrations
touch must be on the target as the replay up to the last of them defines them. Without one, each
migration's effects are probed with the shapes its SQL states, as far as they go, and what that
cannot confirm is listed as unverified (enough for migrations PostgreSQL ran to the end).
"""

from __future__ import annotations

from typing import Any

import psycopg

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import Effect
from service.analysis.ground_truth import compare_with_replay, merge, touched_objects
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, probe_effects
from service.analysis.replay import ReplayCache
from service.prisma.errors import CannotConnect, MigrateError
from service.prisma.migrations import LocalMigrations


def check_settled(conn: psycopg.Connection, schema: str, local: LocalMigrations, names: list[str], replay: ReplayCache | None) -> dict[str, Any]:
    """The postcondition over `names` (migrations of `local`); `problems` empty means it holds."""
    positions = sorted(local.names.index(name) for name in set(names))
    if not positions:
        return {"basis": "none", "migrations": [], "problems": [], "unverified": []}
    settled = [local.names[position] for position in positions]
    why_parsed = "no shadow server is configured to replay the history on"
    if replay is not None:
        try:
            return _against_replay(conn, local, positions, settled, replay)
        except CannotConnect:
            raise  # an unreachable shadow is waited for (service.jobs.unreachable), never replaced by less evidence
        except MigrateError as error:
            why_parsed = f"the shadow's replay failed: {error.headline}"
    return {**_against_parsed_shapes(conn, schema, local, settled), "why": why_parsed}


_INVALID_INDEXES = """
SELECT c.relname, t.relname FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND NOT (i.indisvalid AND i.indisready)
"""


def unusable_indexes(conn: psycopg.Connection, schema: str, local: LocalMigrations, applied: list[str]) -> list[str]:
    """INVALID or unready indexes that applied migrations create: no `proceed` over them, even
    when the history looks clean (a guarded re-run that skipped one, say)."""
    unusable = {name: table for name, table in conn.execute(_INVALID_INDEXES, (schema,)).fetchall()}
    if not unusable:
        return []
    found = []
    for migration_name in applied:
        migration = local.get(migration_name)
        if migration is None:
            continue
        for effect in analyze_migration(migration.script, migration_name).effects:
            if effect.action == "create" and effect.kind == "index" and effect.schema in (None, schema) and unusable.get(effect.name) == effect.parent:
                found.append(
                    f"index {schema}.{effect.name} on {effect.parent}, created by {migration_name}, is INVALID or not ready: PostgreSQL does not use it; drop it and build it again"
                )
    return found


def _against_replay(conn: psycopg.Connection, local: LocalMigrations, positions: list[int], settled: list[str], replay: ReplayCache) -> dict[str, Any]:
    fingerprints = {count: replay.replay(local, count).fingerprint for p in positions for count in (p, p + 1)}
    touched = merge([touched_objects(fingerprints[p], fingerprints[p + 1]) for p in positions])
    comparison = compare_with_replay(conn, fingerprints[positions[0]], fingerprints[positions[-1] + 1], touched)
    return {"basis": "replay", "migrations": settled, "problems": list(comparison.problems), "unverified": [], "objects": len(comparison.checks)}


def _against_parsed_shapes(conn: psycopg.Connection, schema: str, local: LocalMigrations, settled: list[str]) -> dict[str, Any]:
    problems: list[str] = []
    unverified: list[str] = []
    wanted = set(settled)
    effects_of = {m.name: with_table_shapes(analyze_migration(m.script, m.name)) for m in local.migrations if m.name in wanted}
    for index, name in enumerate(settled):
        later = [effect for other in settled[index + 1 :] for effect in effects_of[other].effects]
        probe = probe_effects(conn, effects_of[name], schema)
        for check in probe.checks:
            if check.status is CheckStatus.UNKNOWN:
                unverified.append(f"{name}: {check.effect.qualified}: {check.note}")
            elif not check.present and not _changed_later(check.effect, later):
                problems.append(f"{name}: {check.note or check.effect.qualified + ' is not as the migration leaves it'}")
        unverified.extend(f"{name}: {change.kind.upper()} on {change.table} (data)" for change in probe.unverified_data_changes)
    return {"basis": "parsed", "migrations": settled, "problems": problems, "unverified": unverified}


def _changed_later(effect: Effect, later: list[Effect]) -> bool:
    """Whether a later settled migration changes the object again (or what holds it)."""
    return any(
        (other.name == effect.name and other.parent == effect.parent)
        or (effect.parent is not None and other.parent is None and other.name == effect.parent)
        or (other.action == "rename" and other.detail == effect.name)
        for other in later
    )
