"""The manual snapshot of the target's instance or cluster that a deploy takes before it applies
migrations (the policy's `snapshot_before_apply`): `start_snapshot`, then `poll_snapshot` until
it is available, or until the runner's `SNAPSHOT_TIME_LIMIT` ends the wait and blocks the deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.backups import describe_snapshot
from service.recovery.rds.client import CLUSTER_NOT_FOUND, INSTANCE_NOT_FOUND, RestoreRefused, call
from service.recovery.rds.resources import (
    MAX_SNAPSHOT_IDENTIFIER,
    Started,
    State,
    aware,
    check_identifier,
    check_ours,
    derive,
    require_job_tag,
    source_name,
    tag_list,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# A snapshot of a large database takes hours; past this the deploy stops waiting and is blocked.
SNAPSHOT_TIME_LIMIT = timedelta(hours=6)

_FAILED_SNAPSHOT_STATUSES = frozenset({"failed", "error", "deleting", "deleted"})


@dataclass(frozen=True)
class SnapshotStatus:
    state: State
    status: str
    snapshot_id: str
    progress_percent: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "status": self.status,
            "snapshot_id": self.snapshot_id,
            "progress_percent": self.progress_percent,
        }


def default_snapshot_identifier(source: str, now: datetime) -> str:
    return derive(source, f"-deploy-gate-{aware(now, 'now'):%Y%m%d%H%M%S}", MAX_SNAPSHOT_IDENTIFIER)


def start_snapshot(client: RDSClient, rds: RdsSettings, snapshot_id: str, tags: Mapping[str, str]) -> Started:
    """Start a manual snapshot of the target's instance or cluster; a re-run finds its own snapshot."""
    require_job_tag(tags)
    source = source_name(rds)
    snapshot_id = check_identifier(snapshot_id, "snapshot identifier", max_length=MAX_SNAPSHOT_IDENTIFIER)
    existing = describe_snapshot(client, rds, snapshot_id)
    if existing is not None:
        if existing.source.lower() != source:
            raise RestoreRefused(f"snapshot {snapshot_id} already exists and belongs to {existing.source}, not {source}")
        check_ours(existing.tags, tags, f"snapshot {snapshot_id}")
        return Started("snapshot", snapshot_id, resumed=True)
    if rds.cluster:
        created = call(
            client,
            "create_db_cluster_snapshot",
            absent=CLUSTER_NOT_FOUND,
            DBClusterIdentifier=source,
            DBClusterSnapshotIdentifier=snapshot_id,
            Tags=tag_list(tags),
        )
    else:
        created = call(
            client,
            "create_db_snapshot",
            absent=INSTANCE_NOT_FOUND,
            DBInstanceIdentifier=source,
            DBSnapshotIdentifier=snapshot_id,
            Tags=tag_list(tags),
        )
    if created is None:
        raise RestoreRefused(f"there is no RDS {'cluster' if rds.cluster else 'instance'} named {source}")
    return Started("snapshot", snapshot_id, resumed=False)


def poll_snapshot(client: RDSClient, rds: RdsSettings, snapshot_id: str) -> SnapshotStatus:
    """One describe call: `creating` (with progress), `available`, or `failed`.

    The runner decides how long to keep polling (`deadline_passed` with `SNAPSHOT_TIME_LIMIT`).
    """
    snapshot_id = snapshot_id.lower()
    existing = describe_snapshot(client, rds, snapshot_id)
    if existing is None:
        return SnapshotStatus(State.FAILED, "the snapshot does not exist", snapshot_id)
    if existing.status == "available":
        state = State.AVAILABLE
    elif existing.status in _FAILED_SNAPSHOT_STATUSES:
        state = State.FAILED
    else:
        state = State.CREATING
    return SnapshotStatus(state, existing.status, snapshot_id, existing.progress_percent)
