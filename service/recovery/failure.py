"""Gather the facts about a failed migration: its history, its SQL, the live catalog, the policy."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg
from pglast import ast

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import MigrationFacts
from service.analysis.fingerprint import Fingerprint
from service.analysis.ground_truth import compare_with_replay
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, EffectProbe, probe_effects
from service.analysis.replay import ReplayCache
from service.analysis.verify import TargetFailure
from service.config.records import Policy
from service.prisma.errors import CannotConnect, MigrateError
from service.prisma.execution import DEFAULT_PRISMA_VERSION
from service.prisma.history import HistoryRow
from service.prisma.lock import find_lock_holder
from service.prisma.logs import parse_failure_logs
from service.prisma.migrations import LocalMigrations
from service.recovery.decide import ErrorClass, FailureFacts, classify_sqlstate
from service.recovery.live_objects import ObjectRef, objects_in
from service.recovery.ownership import PreExisting, failed_run_ownership, owned_rollback_plan
from service.recovery.rollback_targets import check_rollback_targets

# A failed row without logs: whatever applied it died before it could record an error.
INTERRUPTED_MESSAGE = "the run was interrupted before it recorded an error (the process applying it stopped)"

# (local migrations, migration name, rollback SQL, how the migration failed on the target or None)
# → whether the rollback verified on a shadow server, with what the verification
# recorded; None when there is no shadow server.
RollbackVerifier = Callable[[LocalMigrations, str, str, TargetFailure | None], "tuple[bool, dict[str, Any]] | None"]


@dataclass(frozen=True)
class Evidence:
    """The facts a decision rests on, and the details behind them for the journal and the report."""

    facts: FailureFacts
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts.to_dict(), **self.details}


def first_failed(rows: list[HistoryRow] | None) -> HistoryRow | None:
    """The failed row Prisma reports first (rows come in start order)."""
    return next((row for row in rows or [] if row.is_failed), None)


def gather_failure_facts(
    conn: psycopg.Connection,
    schema: str,
    local: LocalMigrations,
    row: HistoryRow,
    rows: list[HistoryRow],
    policy: Policy,
    *,
    verify: RollbackVerifier | None = None,
    replay: ReplayCache | None = None,
    lock_waits: int = 0,
    interrupted_here: bool = False,
    pre_existing: PreExisting | Collection[ObjectRef] | None = None,
    prisma_version: int = DEFAULT_PRISMA_VERSION,
) -> Evidence:
    """The facts about the failed `row`. `pre_existing` says which objects existed before the
    migration; by default, what the shadow's replay of the history before it holds, if there is one.
    `prisma_version`: whose engine ran the file (service.prisma.execution), which says what a failure left."""
    name = row.migration_name
    parsed_logs = parse_failure_logs(row.logs)
    sqlstate: str | None
    message: str | None
    if parsed_logs is None:
        sqlstate, message, error_class = None, INTERRUPTED_MESSAGE, ErrorClass.TRANSIENT
    else:
        sqlstate, message = parsed_logs.sqlstate, parsed_logs.message
        error_class = classify_sqlstate(sqlstate)
    # Runs that failed with an error; an interrupted run says nothing about the SQL.
    attempts = sum(1 for r in rows if r.migration_name == name and r.finished_at is None and (r.logs or "").strip())
    holder = find_lock_holder(conn)
    details: dict[str, Any] = {"history_row": row.to_dict(), "lock_holder": holder.to_dict() if holder else None}

    migration = local.get(name)
    in_bundle = migration is not None and migration.matches_checksum(row.checksum)
    if migration is not None and not in_bundle:
        details["checksum_mismatch"] = f"the bundle's {name} does not match the checksum of the run that failed"
    common = partial(
        FailureFacts,
        migration_name=name,
        sqlstate=sqlstate,
        message=message,
        error_class=error_class,
        attempts=max(attempts, 1),
        max_automatic_retries=policy.max_automatic_retries,
        automatic_rollback=policy.automatic_rollback,
        lock_holder=str(holder) if holder else None,
        lock_waits=lock_waits,
        interrupted_here=interrupted_here,
    )
    if migration is None or not in_bundle:
        facts = common(
            in_bundle=False,
            parses=False,
            effects="unknown",
            fully_probed=False,
            invalid_indexes=(),
            transactional=False,
            idempotent=False,
            rollback_source="none",
            rollback_complete=False,
            rollback_verified=None,
        )
        return Evidence(facts, details)

    analysis = analyze_migration(migration.script, name, prisma_version)
    probe = probe_effects(conn, with_table_shapes(analysis), schema)
    shapes, replayed_before = compare_shapes(conn, local, name, replay)
    details["shapes"] = shapes
    if shapes["basis"] == "replay":
        effects, fully_probed, invalid_indexes = shapes["state"], not analysis.data_changes, tuple(shapes["invalid_indexes"])
    else:
        effects, fully_probed, invalid_indexes = probe.state.value, probe.fully_probed, probe.invalid_indexes
        extra = extra_columns(conn, schema, analysis)
        if extra and effects == "all":
            # Tables of those names exist, but with columns the migration does not create: not its tables.
            effects = "partial"
            details["extra_columns"] = extra
    if pre_existing is None and replayed_before is not None:
        pre_existing = objects_in(replayed_before)
    # The rollback undoes only what this run made: never what existed before it or never ran.
    ownership = failed_run_ownership(conn, schema, analysis, row.logs, pre_existing=pre_existing)
    plan = owned_rollback_plan(migration.script, analysis, ownership)
    targets = check_rollback_targets(conn, schema, plan.sql, ownership)
    details["analysis"] = analysis.to_dict()
    details["probe"] = probe.to_dict()
    details["ownership"] = ownership.to_dict()
    details["rollback"] = plan.to_dict()
    details["rollback_targets"] = targets.to_dict()
    # Only a rollback that runs in one transaction can be undone when it does not undo everything.
    runs_in_transaction = analyze_migration(plan.sql).transactional if plan.sql.strip() else True
    rollback_complete = plan.complete and bool(plan.sql.strip()) and runs_in_transaction
    gaps = [reason.message for reason in plan.reasons]
    if plan.complete and not runs_in_transaction:
        gaps.append("the rollback SQL has its own transaction control or statements that cannot run in a transaction")
    verified = None
    needs_rollback = effects == "partial" and not analysis.transactional
    if rollback_complete and needs_rollback and verify is not None:
        outcome = verify(local, name, plan.sql, TargetFailure(parsed_logs.sqlstate, parsed_logs.message) if parsed_logs is not None else None)
        if outcome is not None:
            verified, details["verification"] = outcome
    facts = common(
        in_bundle=True,
        parses=analysis.parses,
        effects=effects,
        fully_probed=fully_probed,
        shapes_verified=shapes["basis"] == "replay",
        invalid_indexes=invalid_indexes,
        transactional=analysis.transactional,
        idempotent=analysis.idempotent,
        rollback_source=plan.source,
        rollback_complete=rollback_complete,
        rollback_verified=verified,
        not_transactional_because=tuple(r.message for r in analysis.not_transactional_because),
        unguarded=tuple(r.message for r in analysis.unguarded),
        rollback_gaps=tuple(gaps),
        rollback_needs_approval=targets.needs_approval,
        other_shapes=_other_shapes(shapes, probe),
    )
    return Evidence(facts, details)


def compare_shapes(conn: psycopg.Connection, local: LocalMigrations, name: str, replay: ReplayCache | None) -> tuple[dict[str, Any], Fingerprint | None]:
    """A migration's touched objects on the target against the shadow's replay before and after it,
    and the replay before it (None without one).

    Without a shadow, or when the replay fails there, the comparison is the parsed one (the probe's),
    and the facts say so: it never lets a failed migration be recorded as applied without a person.
    """
    if replay is None:
        return {"basis": "parsed", "why": "no shadow server is configured to replay the history on"}, None
    position = local.names.index(name)
    try:
        before = replay.replay(local, position)
    except CannotConnect:
        raise  # an unreachable shadow is waited for (service.jobs.unreachable), never replaced by less evidence
    except MigrateError as error:
        return {"basis": "parsed", "why": f"the shadow's replay failed: {error.headline}"}, None
    try:
        after = replay.replay(local, position + 1)
    except CannotConnect:
        raise  # an unreachable shadow is waited for (service.jobs.unreachable), never replaced by less evidence
    except MigrateError as error:
        return {"basis": "parsed", "why": f"the shadow's replay failed: {error.headline}"}, before.fingerprint
    return compare_with_replay(conn, before.fingerprint, after.fingerprint).to_dict(), before.fingerprint


def _other_shapes(shapes: dict[str, Any], probe: EffectProbe) -> tuple[str, ...]:
    """Objects of the migration's names that are defined otherwise on the target: not its effects."""
    if shapes["basis"] == "replay":
        return tuple(check["note"] for check in shapes["checks"] if check["status"] == CheckStatus.OTHER_SHAPE)
    return tuple(check.note for check in probe.checks if check.status is CheckStatus.OTHER_SHAPE)


def existed_before(replay: ReplayCache | None, local: LocalMigrations, name: str) -> frozenset[ObjectRef] | None:
    """The objects the shadow's replay of the history before `name` holds: they existed before it
    ran, so no rollback of it may drop them. None without a shadow, or when the replay fails."""
    if replay is None:
        return None
    try:
        return objects_in(replay.replay(local, local.names.index(name)).fingerprint)
    except CannotConnect:
        raise  # waited for, see compare_shapes
    except MigrateError:
        return None


def extra_columns(conn: psycopg.Connection, schema: str, analysis: MigrationFacts) -> dict[str, list[str]]:
    """Columns of the tables a migration creates that the migration itself does not create."""
    if analysis.parsed is None:
        return {}
    expected: dict[tuple[str, str], set[str]] = {}
    for statement in analysis.parsed.statements:
        node = statement.node
        if isinstance(node, ast.CreateStmt) and node.relation is not None and node.relation.relname:
            key = (node.relation.schemaname or schema, node.relation.relname)
            expected[key] = {e.colname for e in node.tableElts or () if isinstance(e, ast.ColumnDef) and e.colname}
    for effect in analysis.effects:
        if effect.action == "create" and effect.kind == "column" and effect.parent and (effect.schema or schema, effect.parent) in expected:
            expected[(effect.schema or schema, effect.parent)].add(effect.name)
    extra = {}
    for (table_schema, table), columns in expected.items():
        present = conn.execute(
            "SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table_schema, table),
        ).fetchall()
        unexpected = [column for (column,) in present if column not in columns]
        if unexpected:
            extra[f"{table_schema}.{table}"] = unexpected
    return extra
