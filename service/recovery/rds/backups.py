"""The backups a restore can start from: the snapshots of the target's instance or Aurora cluster,
and the window a point-in-time restore can reach.

Instance and cluster snapshots are the same thing under different AWS names (`_SnapshotNames`),
so every function here serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.client import CLUSTER_SNAPSHOT_NOT_FOUND, SNAPSHOT_NOT_FOUND, RestoreRefused, call, paginate
from service.recovery.rds.resources import iso, require_cluster, require_instance, source_name, tags_of, utc

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


@dataclass(frozen=True)
class Snapshot:
    id: str
    source: str
    type: str  # automated, manual, ...
    status: str
    created_at: datetime | None  # None while AWS has not started it
    engine_version: str | None = None
    progress_percent: int | None = None
    engine: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # to tell a job's own snapshot; not listed (tags are the account's business)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "status": self.status,
            "created_at": iso(self.created_at),
            "engine": self.engine,
            "engine_version": self.engine_version,
            "progress_percent": self.progress_percent,
        }


@dataclass(frozen=True)
class RestorableWindow:
    earliest: datetime
    latest: datetime

    def contains(self, moment: datetime) -> bool:
        return self.earliest <= moment <= self.latest

    def to_dict(self) -> dict[str, Any]:
        return {"earliest": iso(self.earliest), "latest": iso(self.latest)}


@dataclass(frozen=True)
class _SnapshotNames:
    """AWS's names for a snapshot of an instance, or of a cluster."""

    of: str  # what the snapshot is of, in words
    describe: str
    not_found: frozenset[str]
    identifier: str
    listed_under: str
    source: str


_INSTANCE_SNAPSHOT = _SnapshotNames("instance", "describe_db_snapshots", SNAPSHOT_NOT_FOUND, "DBSnapshotIdentifier", "DBSnapshots", "DBInstanceIdentifier")
_CLUSTER_SNAPSHOT = _SnapshotNames(
    "cluster", "describe_db_cluster_snapshots", CLUSTER_SNAPSHOT_NOT_FOUND, "DBClusterSnapshotIdentifier", "DBClusterSnapshots", "DBClusterIdentifier"
)


def _names(rds: RdsSettings) -> _SnapshotNames:
    return _CLUSTER_SNAPSHOT if rds.cluster else _INSTANCE_SNAPSHOT


def list_snapshots(client: RDSClient, rds: RdsSettings) -> list[Snapshot]:
    """The automated and manual snapshots of the target's instance or cluster, newest first."""
    names = _names(rds)
    raw = paginate(client, names.describe, names.listed_under, **{names.source: source_name(rds)})
    snapshots = [_snapshot(names, item) for item in raw]
    # A snapshot still being made has no time yet and is the newest of all.
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(snapshots, key=lambda s: s.created_at or far_future, reverse=True)


def describe_snapshot(client: RDSClient, rds: RdsSettings, snapshot_id: str) -> Snapshot | None:
    """A snapshot of the target's kind (instance or cluster) by name, whoever's it is; None if there is none."""
    names = _names(rds)
    found = call(client, names.describe, absent=names.not_found, **{names.identifier: snapshot_id})
    snapshots: list[dict[str, Any]] = (found or {}).get(names.listed_under, [])
    return _snapshot(names, snapshots[0]) if snapshots else None


def restorable_snapshot(client: RDSClient, rds: RdsSettings, snapshot_id: str) -> Snapshot:
    """The snapshot a restore of the target may start from: it exists, is of the target, and is available."""
    names = _names(rds)
    source = source_name(rds)
    snapshot = describe_snapshot(client, rds, snapshot_id)
    if snapshot is None:
        raise RestoreRefused(f"there is no {'cluster ' if rds.cluster else ''}snapshot named {snapshot_id}")
    if snapshot.source.lower() != source:
        raise RestoreRefused(f"snapshot {snapshot_id} is of {names.of} {snapshot.source}, not of {source}")
    if snapshot.status != "available":
        raise RestoreRefused(f"snapshot {snapshot_id} is {snapshot.status}, not available")
    return snapshot


def restorable_window(client: RDSClient, rds: RdsSettings) -> RestorableWindow | None:
    """The earliest and latest time a point-in-time restore can reach; None if backups are off."""
    if rds.cluster:
        return window_of(client, require_cluster(client, rds.cluster), aurora=True)
    return window_of(client, require_instance(client, rds.instance or ""), aurora=False)


def window_of(client: RDSClient, source: dict[str, Any], *, aurora: bool) -> RestorableWindow | None:
    """`restorable_window` of an instance or cluster already described."""
    return _cluster_window(source) if aurora else _instance_window(client, source)


def _instance_window(client: RDSClient, instance: dict[str, Any]) -> RestorableWindow | None:
    latest = instance.get("LatestRestorableTime")
    retention = instance.get("BackupRetentionPeriod") or 0
    if latest is None or retention <= 0:
        return None
    earliest = None
    found = call(client, "describe_db_instance_automated_backups", DBInstanceIdentifier=instance["DBInstanceIdentifier"])
    for backup in (found or {}).get("DBInstanceAutomatedBackups", []):
        same = backup.get("DbiResourceId") in (None, instance.get("DbiResourceId"))
        window = backup.get("RestoreWindow") or {}
        if backup.get("Status") == "active" and same and window.get("EarliestTime"):
            earliest = window["EarliestTime"]
    if earliest is None:
        # Without AWS's restore window, the retention period bounds it (and nothing precedes creation).
        earliest = latest - timedelta(days=retention)
        created = instance.get("InstanceCreateTime")
        if created is not None and created > earliest:
            earliest = created
    return RestorableWindow(utc(earliest), utc(latest))


def _cluster_window(cluster: dict[str, Any]) -> RestorableWindow | None:
    earliest, latest = cluster.get("EarliestRestorableTime"), cluster.get("LatestRestorableTime")
    if earliest is None or latest is None:
        return None
    return RestorableWindow(utc(earliest), utc(latest))


def _snapshot(names: _SnapshotNames, item: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=item[names.identifier],
        source=item.get(names.source, ""),
        type=item.get("SnapshotType", "unknown"),
        status=item.get("Status", "unknown"),
        created_at=utc(item["SnapshotCreateTime"]) if item.get("SnapshotCreateTime") else None,
        engine_version=item.get("EngineVersion"),
        progress_percent=item.get("PercentProgress"),
        engine=item.get("Engine"),
        tags=tags_of(item),
    )
