"""What a recovery does to a target. Each action is safe to run again after a crash.

Every write takes Prisma's advisory lock, so none can race a running `prisma migrate deploy`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from service.analysis.facts.analyze import analyze_migration
from service.analysis.probe import probe_effects
from service.prisma import history
from service.prisma.deploy import SessionTimeouts, session_timeouts
from service.prisma.errors import MigrateError
from service.prisma.execution import DEFAULT_PRISMA_VERSION
from service.prisma.lock import advisory_lock
from service.prisma.migrations import LocalMigrations
from service.prisma.resolve import resolve_applied, resolve_rolled_back
from service.recovery.live_objects import ObjectRef
from service.recovery.ownership import PreExisting, applied_migration_ownership, failed_run_ownership
from service.recovery.rollback_targets import check_rollback_targets


class RollbackFailed(MigrateError):
    """The rollback SQL errored or left effects behind; its transaction was undone."""


def mark_rolled_back(conn: psycopg.Connection, schema: str, name: str, lock_wait: float) -> dict[str, Any]:
    """`resolve --rolled-back` for the failed rows; nothing left to mark is fine (a re-run)."""
    rows = history.read_history(conn, schema) or []
    if not any(row.migration_name == name and row.is_failed for row in rows):
        return {"marked_rolled_back": []}
    return {"marked_rolled_back": resolve_rolled_back(conn, schema, name, lock_wait=lock_wait)}


def mark_applied(conn: psycopg.Connection, schema: str, local: LocalMigrations, name: str, lock_wait: float) -> dict[str, Any]:
    """`resolve --applied`; a finished row already there (from a run that crashed after it) is fine."""
    rows = history.read_history(conn, schema) or []
    if any(row.migration_name == name and row.is_applied for row in rows) and not any(row.migration_name == name and row.is_failed for row in rows):
        return {"marked_applied": None}
    return {"marked_applied": resolve_applied(conn, schema, local, name, lock_wait=lock_wait)}


def drop_invalid_indexes(conn: psycopg.Connection, qualified_names: list[str], lock_wait: float, timeouts: SessionTimeouts) -> dict[str, Any]:
    """Drop INVALID indexes a failed CREATE (or DROP) INDEX CONCURRENTLY left: a retry builds them
    anew (or finishes the drop).

    The names come from the catalog (the effect probe), never from a request. The target's lock
    timeout bounds each drop: it waits for every transaction using the table, and one left idle
    would otherwise hold it for good.
    """
    with advisory_lock(conn, lock_wait), session_timeouts(conn, timeouts):
        for qualified in qualified_names:
            schema, _, name = qualified.partition(".")
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
    return {"dropped": list(qualified_names)}


def run_rollback_sql(
    conn: psycopg.Connection,
    schema: str,
    local: LocalMigrations,
    name: str,
    rollback_sql: str,
    *,
    timeouts: SessionTimeouts,
    lock_wait: float,
    finished_row: bool = False,
    approved_objects: Collection[str] | None = None,
    pre_existing: PreExisting | Collection[ObjectRef] | None = None,
    prisma_version: int = DEFAULT_PRISMA_VERSION,
) -> dict[str, Any]:
    """Run a migration's rollback SQL and record the migration rolled back, all in one transaction.

    Under Prisma's lock, with the target's lock and statement timeouts: first each object the
    rollback SQL drops or changes is checked on the live target (`check_rollback_targets`): one
    this migration did not make, or data it would drop, stops it here unless a person approved a
    plan naming that object (`approved_objects`). Then the rollback SQL runs, the effects this run
    of the migration left are probed inside the same transaction and must all be gone, and only
    then is the history changed (the failed rows, or with `finished_row` the applied row of a
    migration that succeeded) and the whole committed. Anything else undoes all of it.

    The file must match the checksum its history row records. A re-run after a crash that
    happened after the commit finds nothing left to roll back and changes nothing.
    """
    migration = local.get(name)
    if migration is None:
        raise RollbackFailed(f"the bundle has no {name}")
    with advisory_lock(conn, lock_wait):
        rows = [row for row in history.read_history(conn, schema) or [] if row.migration_name == name]
        wanted = [row for row in rows if (row.is_applied if finished_row else row.is_failed)]
        if not wanted:
            return {"rolled_back_rows": [], "note": f"{name} has no {'applied' if finished_row else 'failed'} row left: already rolled back"}
        if not all(migration.matches_checksum(row.checksum) for row in wanted):
            raise RollbackFailed(f"the bundle's {name} does not match the checksum in the history; its rollback SQL is not run")
        facts = analyze_migration(migration.script, name, prisma_version)
        try:
            with conn.transaction():
                for setting, value in timeouts.settings().items():
                    conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
                if finished_row:
                    ownership = applied_migration_ownership(facts, schema, pre_existing=pre_existing)
                else:
                    ownership = failed_run_ownership(conn, schema, facts, wanted[-1].logs, pre_existing=pre_existing)
                targets = check_rollback_targets(conn, schema, rollback_sql, ownership)
                unapproved = [t.needs_approval for t in targets.targets if t.needs_approval and t.object not in (approved_objects or ())]
                if unapproved:
                    raise RollbackFailed(f"the rollback SQL of {name} was not run: it {'; it '.join(unapproved)}, and no person approved that")
                # No parameters: the text goes as one simple-query string, inside this transaction.
                conn.execute(rollback_sql.encode("utf-8"))
                # Only this run's own work must be gone; what existed before it stays.
                probe = probe_effects(conn, replace(facts, effects=tuple(e for e in facts.effects if ownership.leave_out(e) is None)), schema)
                if probe.checks and probe.state.value != "none":
                    left = [c.effect.qualified for c in probe.checks if c.present]
                    raise RollbackFailed(
                        f"the rollback SQL of {name} left effects in place ({probe.state.value}: {', '.join(left) or 'unknown'}); it was undone"
                    )
                for row in wanted:
                    history.mark_rolled_back(conn, schema, row.id)
        except psycopg.Error as error:
            message = error.diag.message_primary if getattr(error, "diag", None) and error.diag.message_primary else str(error).strip()
            raise RollbackFailed(
                f"the rollback SQL of {name} failed ({getattr(error, 'sqlstate', None) or 'no SQLSTATE'}: {message}); it was undone",
                sqlstate=getattr(error, "sqlstate", None),
            ) from None
    return {"rolled_back_rows": [row.id for row in wanted], "rollback_targets": targets.to_dict(), "probe": probe.to_dict()}
