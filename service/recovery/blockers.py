"""The sessions whose table locks stand in a migration's way: what it locks, and who holds what.

A migration retried after a lock timeout fails again while the session that held the lock still
holds it. So before a retry the recover job asks which tables the migration locks (from its parsed
facts, resolved in the live catalog) and which other sessions hold, or queue for, a lock on them in
a mode that conflicts with the one the migration takes (PostgreSQL's table of conflicting lock
modes). `describe_blocker` and `describe_wait` put the journaled looks into words, for the verdict's
reasons and the command line alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.prisma.lock import preview_query

if TYPE_CHECKING:
    import psycopg

    from service.analysis.facts.records import MigrationFacts

ACCESS_SHARE = "AccessShareLock"
ROW_SHARE = "RowShareLock"
ROW_EXCLUSIVE = "RowExclusiveLock"
SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"
SHARE = "ShareLock"
SHARE_ROW_EXCLUSIVE = "ShareRowExclusiveLock"
EXCLUSIVE = "ExclusiveLock"
ACCESS_EXCLUSIVE = "AccessExclusiveLock"

# PostgreSQL's "Conflicting Lock Modes" table (explicit-locking.html), as pg_locks names the modes.
CONFLICTS: dict[str, frozenset[str]] = {
    ACCESS_SHARE: frozenset({ACCESS_EXCLUSIVE}),
    ROW_SHARE: frozenset({EXCLUSIVE, ACCESS_EXCLUSIVE}),
    ROW_EXCLUSIVE: frozenset({SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_UPDATE_EXCLUSIVE: frozenset({SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE: frozenset({ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_ROW_EXCLUSIVE: frozenset({ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    EXCLUSIVE: frozenset({ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    ACCESS_EXCLUSIVE: frozenset({ACCESS_SHARE, ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
}

# The other session's SQL, as shown in the journal and the gate's output.
QUERY_PREVIEW_CHARS = 200
# Relations whose own name an effect gives (for the others, the effect's parent is the table).
_RELATION_KINDS = ("table", "view", "materialized_view", "sequence", "index")
_DATA_MODES = {"truncate": ACCESS_EXCLUSIVE}

# Names are resolved as the target's search_path would; an index stands for the table it is on.
_RESOLVE_QUERY = """
SELECT t.ord, coalesce(i.indrelid, c.oid)::oid AS relid, coalesce(i.indrelid, c.oid)::regclass::text AS relation
FROM unnest(%(schemas)s::text[], %(names)s::text[]) WITH ORDINALITY AS t(schema_name, rel_name, ord)
JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(format('%%I.%%I', t.schema_name, t.rel_name))
LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
"""

# Age counts from the start of the holder's transaction: PostgreSQL does not record when a lock
# was granted, and a lock is held until its transaction ends.
_LOCKS_QUERY = """
SELECT l.relation::oid AS relid, l.relation::regclass::text AS relation, l.mode, l.granted,
       a.pid, a.application_name, a.state, a.query,
       extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start))::float8 AS transaction_age_seconds,
       CASE WHEN l.granted THEN ARRAY[]::int[] ELSE pg_catalog.pg_blocking_pids(l.pid) END AS waiting_for
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.relation = ANY(%(relids)s::oid[])
  AND l.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid, relation, l.mode
"""


@dataclass(frozen=True)
class RelationLock:
    relation: str  # as PostgreSQL names it from the target's search_path: "Patient", app."Visit"
    mode: str
    granted: bool  # False: the session queues for it, ahead of any retry of ours

    def to_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "mode": self.mode, "granted": self.granted}


@dataclass(frozen=True)
class Blocker:
    """Another session holding or queueing for a lock that conflicts with what the migration takes."""

    pid: int
    application_name: str | None
    state: str | None
    query: str | None  # a preview: one line, passwords masked, QUERY_PREVIEW_CHARS at most
    transaction_age_seconds: float | None
    locks: tuple[RelationLock, ...]
    waiting_for: tuple[int, ...] = ()  # pg_blocking_pids of a session that queues

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "application_name": self.application_name,
            "state": self.state,
            "query": self.query,
            "transaction_age_seconds": round(self.transaction_age_seconds, 1) if self.transaction_age_seconds is not None else None,
            "locks": [lock.to_dict() for lock in self.locks],
            "waiting_for": list(self.waiting_for),
        }

    def __str__(self) -> str:
        return describe_blocker(self.to_dict())


@dataclass(frozen=True)
class BlockingSessions:
    needs: dict[str, tuple[str, ...]]  # relation -> the lock modes the migration takes on it
    blockers: tuple[Blocker, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"needs": {relation: list(modes) for relation, modes in self.needs.items()}, "blockers": [b.to_dict() for b in self.blockers]}


def locks_needed(facts: MigrationFacts, schema: str) -> dict[tuple[str, str], frozenset[str]]:
    """The relations (schema, name) a migration's statements lock, with the modes they take.

    ACCESS EXCLUSIVE unless the statement is known to take less: CREATE INDEX takes SHARE,
    CONCURRENTLY (create or drop) and VALIDATE CONSTRAINT take SHARE UPDATE EXCLUSIVE (a
    concurrent build also waits for the table's writers, as SHARE would), rows written take ROW
    EXCLUSIVE. An unnamed object leaves its table to the catalog: an index is
    resolved to the table it is on.
    """
    needs: dict[tuple[str, str], set[str]] = {}

    def need(relation_schema: str | None, name: str | None, mode: str) -> None:
        if name:
            needs.setdefault((relation_schema or schema, name), set()).add(mode)

    statements = facts.parsed.statements if facts.parsed is not None else ()
    for effect in facts.effects:
        node = statements[effect.statement].node if effect.statement < len(statements) else None
        concurrent = bool(getattr(node, "concurrent", False))
        if effect.kind == "index":
            mode = SHARE_UPDATE_EXCLUSIVE if concurrent else SHARE if effect.action == "create" else ACCESS_EXCLUSIVE
            # A created index names its table; a dropped one only itself.
            need(effect.schema, effect.parent or effect.name, mode)
            if concurrent and effect.action == "create":
                # The build then waits for every transaction that writes to the table, as SHARE would.
                need(effect.schema, effect.parent, SHARE)
            elif concurrent and effect.action == "drop":
                # The drop waits for every transaction that holds any lock on the index's table.
                need(effect.schema, effect.parent or effect.name, ACCESS_EXCLUSIVE)
        elif effect.kind == "constraint" and effect.detail == "VALIDATE":
            need(effect.schema, effect.parent, SHARE_UPDATE_EXCLUSIVE)
        elif effect.parent and effect.kind not in ("enum_value",):
            need(effect.schema, effect.parent, ACCESS_EXCLUSIVE)
        elif effect.kind in _RELATION_KINDS:
            need(effect.schema, effect.name, ACCESS_EXCLUSIVE)
    for change in facts.data_changes:
        need(change.schema, change.table, _DATA_MODES.get(change.kind, ROW_EXCLUSIVE))
    return {key: frozenset(modes) for key, modes in needs.items()}


def find_blocking_sessions(conn: psycopg.Connection, facts: MigrationFacts, schema: str, *, older_than_seconds: float = 0.0) -> BlockingSessions:
    """Other sessions holding or queueing for a conflicting lock on the tables the migration locks.

    Our own session is never listed. Sessions whose transaction is younger than
    `older_than_seconds` are left out: on a busy table some query always holds a lock for a
    moment, and a retry waits its lock_timeout for such a one anyway.
    """
    wanted = locks_needed(facts, schema)
    if not wanted:
        return BlockingSessions({}, ())
    keys = list(wanted)
    resolved = conn.execute(_RESOLVE_QUERY, {"schemas": [s for s, _ in keys], "names": [n for _, n in keys]}).fetchall()
    modes_by_relid: dict[int, set[str]] = {}
    needs: dict[str, set[str]] = {}
    for ordinal, relid, relation in resolved:
        modes = wanted[keys[ordinal - 1]]
        modes_by_relid.setdefault(relid, set()).update(modes)
        needs.setdefault(relation, set()).update(modes)
    if not modes_by_relid:
        return BlockingSessions({}, ())
    sessions: dict[int, dict[str, Any]] = {}
    for relid, relation, mode, granted, pid, application, state, query, age, waiting_for in conn.execute(_LOCKS_QUERY, {"relids": list(modes_by_relid)}):
        if not any(mode in CONFLICTS[needed] for needed in modes_by_relid[relid]):
            continue
        if age is not None and age < older_than_seconds:
            continue
        session = sessions.setdefault(
            pid,
            {"application": application or None, "state": state, "query": query, "age": age, "locks": [], "waiting_for": set()},
        )
        session["locks"].append(RelationLock(relation, mode, granted))
        session["waiting_for"].update(waiting_for or ())
    blockers = tuple(
        Blocker(
            pid,
            session["application"],
            session["state"],
            preview_query(session["query"], QUERY_PREVIEW_CHARS),
            session["age"],
            tuple(session["locks"]),
            tuple(sorted(session["waiting_for"])),
        )
        for pid, session in sessions.items()
    )
    return BlockingSessions({relation: tuple(sorted(modes)) for relation, modes in sorted(needs.items())}, blockers)


def describe_blocker(blocker: Mapping[str, Any]) -> str:
    """`pid 1234 (psql, idle in transaction) `LOCK TABLE …` for 2.1 s, AccessExclusiveLock on "Patient"`."""
    about = ", ".join(part for part in (blocker.get("application_name") or "no application name", blocker.get("state")) if part)
    query = f" `{blocker['query']}`" if blocker.get("query") else ""
    age = blocker.get("transaction_age_seconds")
    since = f" for {age:.1f} s" if age is not None else ""
    locks = ", ".join(
        f"{lock['mode']} on {lock['relation']}" + ("" if lock["granted"] else " (queued" + _behind(blocker) + ")") for lock in blocker.get("locks", ())
    )
    return f"pid {blocker['pid']} ({about}){query}{since}" + (f", {locks}" if locks else "")


def _behind(blocker: Mapping[str, Any]) -> str:
    waiting_for = blocker.get("waiting_for") or ()
    return f" behind pid {', '.join(str(pid) for pid in waiting_for)}" if waiting_for else ""


def describe_wait(look: Mapping[str, Any]) -> str:
    """One look for blocking sessions (a `wait_for_blockers` step), in words."""
    blockers = look.get("blockers") or []
    relations = _relations(blockers) or ", ".join(look.get("needs") or {}) or "its tables"
    sessions = f"{len(blockers)} session{'s' if len(blockers) != 1 else ''}"
    who = "; ".join(describe_blocker(blocker) for blocker in blockers)
    waited, bound = look.get("waited_seconds", 0.0), look.get("bound_seconds", 0.0)
    outcome = look.get("outcome")
    if outcome == "clear":
        after = f" after {waited:.1f} s" if waited else ""
        return f"no session holds a lock on {relations} that {look.get('migration')} must wait for{after}; applying it again"
    if outcome == "gave_up":
        return f"{sessions} still {'hold' if len(blockers) != 1 else 'holds'} locks on {relations} after {waited:.1f} s (retry_wait_seconds = {bound:g}): {who}"
    return (
        f"waiting for {sessions} holding locks on {relations}: {who}; "
        f"next look in {look.get('next_look_in_seconds') or 0:.1f} s ({waited:.1f} of {bound:g} s waited)"
    )


def _relations(blockers: list[Mapping[str, Any]]) -> str:
    seen: dict[str, None] = {}
    for blocker in blockers:
        for lock in blocker.get("locks", ()):
            seen.setdefault(lock["relation"], None)
    return ", ".join(seen)


_EXCLUSIVE_HOLDERS = """
SELECT a.pid, a.application_name, a.state, a.query, l.relation::regclass::text
FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
ORDER BY a.xact_start LIMIT 5
"""


def exclusive_lock_holders(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Other sessions holding ACCESS EXCLUSIVE on a relation, oldest first: what keeps a table's
    definitions from being read (pg_get_indexdef, pg_get_expr and pg_get_constraintdef wait)."""
    return [
        {"pid": pid, "application_name": app, "state": state, "query": preview_query(query), "relation": relation}
        for pid, app, state, query, relation in conn.execute(_EXCLUSIVE_HOLDERS).fetchall()
    ]
