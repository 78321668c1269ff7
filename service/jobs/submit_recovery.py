"""Accept recovery work: recover, rollback, restore, cut-over and failover jobs, validated against the configuration.

As with deploys, the caller enqueues the job's task after the row has committed.
"""

from __future__ import annotations

from typing import Any

import psycopg

from service.config.records import Config, Target
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit import IdempotencyKeyReused, NoBundle, UnknownTarget
from service.recovery.rds.failover import no_replica_words
from service.store import repository
from service.store.repository import Job


class NoRdsConfigured(LookupError):
    def __init__(self, target: str) -> None:
        super().__init__(f"target {target} names no RDS instance or cluster, so it cannot be restored")


class NoReplicaConfigured(LookupError):
    """A failover asked of a target whose `[targets.NAME.rds]` names no read replica; the message says how to name one."""


class NotRestored(ValueError):
    """A cut-over asked of a job that is not a finished restore."""


def _target(config: Config, name: str) -> Target:
    target = config.targets.get(name)
    if target is None:
        raise UnknownTarget(name)
    return target


def _create(
    store: psycopg.Connection,
    kind: JobKind,
    target: str,
    requested_by: str,
    params: dict[str, Any],
    digest: str | None,
    key: str | None,
    parent_id: str | None = None,
) -> tuple[Job, bool]:
    job, created = repository.create_job(
        store, kind=kind, target=target, requested_by=requested_by, params=params, bundle_digest=digest, idempotency_key=key, parent_id=parent_id
    )
    # Only a key brings back an earlier job, so `key` is set whenever `created` is False.
    if not created and key is not None and (job.kind, job.target, job.params) != (kind, target, params):
        raise IdempotencyKeyReused(key)
    return job, created


def _latest_bundle(store: psycopg.Connection, target: str) -> str:
    digest = repository.latest_bundle_digest(store, target)
    if digest is None:
        raise NoBundle(f"no migrations stored for target {target}: post a deploy with its migrations first")
    return digest


def submit_recovery(
    store: psycopg.Connection, config: Config, target: str, requested_by: str, *, apply: bool = False, key: str | None = None
) -> tuple[Job, bool]:
    """Decide and act on the target's failed migration, with the last bundle stored for it."""
    _target(config, target)
    return _create(store, JobKind.RECOVER, target, requested_by, {"phase": "failed", "apply": apply}, _latest_bundle(store, target), key)


def submit_rollback(store: psycopg.Connection, config: Config, target: str, migration: str, requested_by: str, key: str | None = None) -> tuple[Job, bool]:
    """Roll back an applied migration, with the last bundle stored for the target."""
    _target(config, target)
    return _create(store, JobKind.ROLLBACK, target, requested_by, {"migration": migration}, _latest_bundle(store, target), key)


def submit_restore(
    store: psycopg.Connection, config: Config, target: str, params: dict[str, Any], requested_by: str, key: str | None = None
) -> tuple[Job, bool]:
    """Restore the target's RDS snapshot or point in time to a new instance."""
    if _target(config, target).rds is None:
        raise NoRdsConfigured(target)
    return _create(store, JobKind.RESTORE, target, requested_by, {"action": "restore", **params}, None, key)


def submit_cutover(store: psycopg.Connection, config: Config, restore_job_id: str, requested_by: str, key: str | None = None) -> tuple[Job, bool]:
    """Swap the restored instance in under the old name: a separate job, separately approved."""
    restore = repository.get_job(store, restore_job_id)
    if restore.kind is not JobKind.RESTORE or restore.params.get("action") != "restore":
        raise NotRestored(f"job {restore.id} is not a restore")
    if restore.state is not JobState.SUCCEEDED or restore.verdict is not Verdict.PROCEED:
        raise NotRestored(f"restore job {restore.id} has not finished with a restored instance ({restore.state.value})")
    if _target(config, restore.target).rds is None:
        raise NoRdsConfigured(restore.target)
    params = {"action": "cutover", "restore_job": restore.id, "new_identifier": restore.facts.get("restore", {}).get("new_identifier")}
    return _create(store, JobKind.RESTORE, restore.target, requested_by, params, None, key or f"cutover-of:{restore.id}", parent_id=None)


def submit_failover(store: psycopg.Connection, config: Config, target: str, requested_by: str, key: str | None = None) -> tuple[Job, bool]:
    """Promote the target's read replica, or fail its Aurora cluster over to that reader instance."""
    rds = _target(config, target).rds
    if rds is None or not rds.read_replica:
        raise NoReplicaConfigured(no_replica_words(target, rds))
    return _create(store, JobKind.FAILOVER, target, requested_by, {"replica": rds.read_replica.lower()}, None, key)
