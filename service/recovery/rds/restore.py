"""Restore an RDS instance or Aurora cluster, from a snapshot or a point in time, to a NEW resource.

The runbook's Procedure C ("restore to a new instance") becomes `plan_restore` → approval →
`start_restore` (→ `start_restore_instance` for Aurora's writer) → `poll_restore` until available,
or until the runner's `RESTORE_TIME_LIMIT`. Each function makes a few short API calls, never a
wait. An instance and a cluster go through the same plan builder: they differ only in AWS's names
for the same calls and settings (`_Shape`), and in Aurora's writer instance, created second.

A plan only says what will run; nothing is created until `start_restore`, which is safe to run
again after a worker died between the AWS call and its journal entry (the job's tag tells).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.backups import RestorableWindow, restorable_snapshot, window_of
from service.recovery.rds.client import CLUSTER_NOT_FOUND, RestoreRefused, call
from service.recovery.rds.resources import (
    ApiCall,
    Started,
    State,
    aware,
    check_identifier,
    check_ours,
    derive,
    describe_cluster,
    describe_instance,
    endpoint_of,
    from_iso,
    iso,
    require_cluster,
    require_instance,
    require_job_tag,
    source_name,
    status_of,
    tag_list,
    tags_of,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# A restore of a large database takes hours; past this the runner stops polling and blocks.
RESTORE_TIME_LIMIT = timedelta(hours=8)

# AWS statuses after which a new instance or cluster will not become available by itself.
_FAILED_STATUSES = frozenset(
    {
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-credentials",
        "storage-full",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "restore-error",
        "cloning-failed",
        "migration-failed",
        "deleting",
        "stopping",
        "stopped",
    }
)


@dataclass(frozen=True)
class RestorePlan:
    """What a restore will do, for an operator to approve; JSON round-trips through to_dict/from_dict."""

    region: str
    source: str  # the instance, or Aurora cluster, restored from; never modified
    aurora: bool
    kind: str  # "snapshot" or "point_in_time"
    snapshot_id: str | None
    restore_time: datetime | None  # None: the latest restorable time when the restore starts
    latest_restorable_time: datetime | None  # with use_latest, what "latest" was when planned
    new_identifier: str  # the new instance, or the new Aurora cluster
    new_instance_identifier: str | None  # Aurora: the writer instance created in the new cluster
    instance_class: str
    restore_call: ApiCall
    instance_call: ApiCall | None  # Aurora: create_db_instance, run by `start_restore_instance`
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        what = "cluster" if self.aurora else "instance"
        if self.kind == "snapshot":
            origin = f"snapshot {self.snapshot_id} of {what} {self.source}"
        elif self.restore_time is not None:
            origin = f"{what} {self.source} as it was at {iso(self.restore_time)}"
        else:
            origin = f"{what} {self.source} as of its latest restorable time"
        target = f"a NEW {what} {self.new_identifier}"
        if self.aurora:
            target += f" with writer instance {self.new_instance_identifier}"
        return f"Restore {origin} to {target} ({self.instance_class}); {self.source} itself is not changed."

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "source": self.source,
            "aurora": self.aurora,
            "kind": self.kind,
            "snapshot_id": self.snapshot_id,
            "restore_time": iso(self.restore_time),
            "latest_restorable_time": iso(self.latest_restorable_time),
            "new_identifier": self.new_identifier,
            "new_instance_identifier": self.new_instance_identifier,
            "instance_class": self.instance_class,
            "restore_call": self.restore_call.to_dict(),
            "instance_call": self.instance_call.to_dict() if self.instance_call else None,
            "notes": list(self.notes),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RestorePlan:
        return cls(
            region=data["region"],
            source=data["source"],
            aurora=bool(data["aurora"]),
            kind=data["kind"],
            snapshot_id=data.get("snapshot_id"),
            restore_time=from_iso(data.get("restore_time")),
            latest_restorable_time=from_iso(data.get("latest_restorable_time")),
            new_identifier=data["new_identifier"],
            new_instance_identifier=data.get("new_instance_identifier"),
            instance_class=data["instance_class"],
            restore_call=ApiCall.from_dict(data["restore_call"]),
            instance_call=ApiCall.from_dict(data["instance_call"]) if data.get("instance_call") else None,
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True)
class RestoreStatus:
    state: State
    status: str  # AWS's own words
    identifier: str
    endpoint: str | None = None
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "status": self.status,
            "identifier": self.identifier,
            "endpoint": self.endpoint,
            "port": self.port,
        }


def default_restore_identifier(source: str, now: datetime) -> str:
    return derive(source, f"-restore-{aware(now, 'now'):%Y%m%d%H%M}")


@dataclass(frozen=True)
class _Shape:
    """AWS's names for the same restore of an instance, or of an Aurora cluster."""

    aurora: bool
    from_snapshot: str
    snapshot_parameter: str
    snapshot_new_parameter: str
    to_point_in_time: str
    point_in_time_source_parameter: str
    point_in_time_new_parameter: str
    time_parameter: str
    point_in_time_extra: Mapping[str, Any]
    # (the source's key, the restore call's parameter) of the yes/no settings a restore copies.
    copied_flags: tuple[tuple[str, str], ...]
    without_parameter_groups: str  # what a snapshot of another major version gets instead


_INSTANCE = _Shape(
    aurora=False,
    from_snapshot="restore_db_instance_from_db_snapshot",
    snapshot_parameter="DBSnapshotIdentifier",
    snapshot_new_parameter="DBInstanceIdentifier",
    to_point_in_time="restore_db_instance_to_point_in_time",
    point_in_time_source_parameter="SourceDBInstanceIdentifier",
    point_in_time_new_parameter="TargetDBInstanceIdentifier",
    time_parameter="RestoreTime",
    point_in_time_extra={},
    copied_flags=(
        ("PubliclyAccessible", "PubliclyAccessible"),
        ("MultiAZ", "MultiAZ"),
        ("CopyTagsToSnapshot", "CopyTagsToSnapshot"),
        ("DeletionProtection", "DeletionProtection"),
        ("IAMDatabaseAuthenticationEnabled", "EnableIAMDatabaseAuthentication"),
    ),
    without_parameter_groups="the new instance gets the default parameter group",
)
_CLUSTER = _Shape(
    aurora=True,
    from_snapshot="restore_db_cluster_from_snapshot",
    snapshot_parameter="SnapshotIdentifier",
    snapshot_new_parameter="DBClusterIdentifier",
    to_point_in_time="restore_db_cluster_to_point_in_time",
    point_in_time_source_parameter="SourceDBClusterIdentifier",
    point_in_time_new_parameter="DBClusterIdentifier",
    time_parameter="RestoreToTime",
    # full-copy: a clone (copy-on-write) would share storage with the damaged source.
    point_in_time_extra={"RestoreType": "full-copy"},
    copied_flags=(
        ("CopyTagsToSnapshot", "CopyTagsToSnapshot"),
        ("DeletionProtection", "DeletionProtection"),
        ("IAMDatabaseAuthenticationEnabled", "EnableIAMDatabaseAuthentication"),
    ),
    without_parameter_groups="the new cluster and instance get default parameter groups",
)


def plan_restore(
    client: RDSClient,
    rds: RdsSettings,
    *,
    snapshot_id: str | None = None,
    point_in_time: datetime | None = None,
    use_latest: bool = False,
    new_identifier: str | None = None,
    now: datetime,
) -> RestorePlan:
    """Check everything a restore needs and say exactly what will run; starts nothing.

    Give exactly one of `snapshot_id`, `point_in_time` (timezone-aware) or `use_latest`. The new
    resource copies the source's network (subnet group, VPC security groups), instance class and
    parameter groups. Raises `RestoreRefused` with the reason when something does not hold.
    """
    now = aware(now, "now")
    if sum((snapshot_id is not None, point_in_time is not None, bool(use_latest))) != 1:
        raise RestoreRefused("name exactly one of a snapshot, a point in time, or the latest restorable time")
    source_id = source_name(rds)
    new_id = check_identifier(new_identifier, "the new identifier") if new_identifier else default_restore_identifier(source_id, now)
    if new_id == source_id:
        raise RestoreRefused(f"the new identifier must differ from the source {source_id}: a restore never overwrites it")
    aurora = bool(rds.cluster)
    shape = _CLUSTER if aurora else _INSTANCE

    source, writer = _restorable_source(client, source_id, aurora)
    snapshot = restorable_snapshot(client, rds, snapshot_id) if snapshot_id is not None else None
    restore_time, latest = _check_point_in_time(source_id, lambda: window_of(client, source, aurora=aurora), point_in_time, use_latest, now)
    instance_id = derive(new_id, "-instance-1") if aurora else None
    _check_names_free(client, new_id, instance_id)

    same_major = snapshot is None or _major(snapshot.engine_version) == _major(source.get("EngineVersion"))
    notes: list[str] = []
    if snapshot is not None and not same_major:
        notes.append(
            f"snapshot {snapshot_id} holds {source.get('Engine')} {snapshot.engine_version}, the source now runs "
            f"{source.get('EngineVersion')}: {shape.without_parameter_groups}"
        )
    copied = _copied_settings(shape, source, same_major)
    if snapshot is not None:
        # An Aurora cluster's restore names its engine; an instance's takes the snapshot's.
        engine = {"Engine": snapshot.engine or source.get("Engine", "")} if aurora else {}
        restore_call = ApiCall(shape.from_snapshot, {shape.snapshot_new_parameter: new_id, shape.snapshot_parameter: snapshot.id, **engine, **copied})
    else:
        restore_call = ApiCall(
            shape.to_point_in_time,
            {
                shape.point_in_time_source_parameter: source_id,
                shape.point_in_time_new_parameter: new_id,
                **shape.point_in_time_extra,
                **_time_parameters(shape.time_parameter, restore_time),
                **copied,
            },
        )
    return RestorePlan(
        region=rds.region,
        source=source_id,
        aurora=aurora,
        kind="snapshot" if snapshot is not None else "point_in_time",
        snapshot_id=snapshot.id if snapshot is not None else None,
        restore_time=restore_time,
        latest_restorable_time=latest,
        new_identifier=new_id,
        new_instance_identifier=instance_id,
        instance_class=(writer or source)["DBInstanceClass"],
        restore_call=restore_call,
        instance_call=_writer_call(source, writer, new_id, instance_id, same_major) if writer is not None and instance_id else None,
        notes=tuple(notes),
    )


def start_restore(client: RDSClient, plan: RestorePlan, tags: Mapping[str, str]) -> Started:
    """Start the approved restore (the new instance, or for Aurora the new cluster)."""
    require_job_tag(tags)
    describe = describe_cluster if plan.aurora else describe_instance
    action = "restore_cluster" if plan.aurora else "restore_instance"
    existing = describe(client, plan.new_identifier)
    if existing is not None:
        check_ours(tags_of(existing), tags, f"{'cluster' if plan.aurora else 'instance'} {plan.new_identifier}")
        return Started(action, plan.new_identifier, resumed=True)
    call(client, plan.restore_call.operation, **plan.restore_call.parameters, Tags=tag_list(tags))
    return Started(action, plan.new_identifier, resumed=False)


def start_restore_instance(client: RDSClient, plan: RestorePlan, tags: Mapping[str, str]) -> Started:
    """Aurora only, after `start_restore`: create the writer instance in the new cluster.

    If the cluster cannot take an instance yet, raises `RdsUnavailable`: run the step again later.
    """
    if not plan.aurora or plan.instance_call is None or plan.new_instance_identifier is None:
        raise ValueError("start_restore_instance is for Aurora restore plans only")
    require_job_tag(tags)
    existing = describe_instance(client, plan.new_instance_identifier)
    if existing is not None:
        check_ours(tags_of(existing), tags, f"instance {plan.new_instance_identifier}")
        if existing.get("DBClusterIdentifier", "").lower() != plan.new_identifier:
            raise RestoreRefused(f"instance {plan.new_instance_identifier} exists outside cluster {plan.new_identifier}")
        return Started("create_instance", plan.new_instance_identifier, resumed=True)
    created = call(client, plan.instance_call.operation, absent=CLUSTER_NOT_FOUND, **plan.instance_call.parameters, Tags=tag_list(tags))
    if created is None:
        raise RestoreRefused(f"cluster {plan.new_identifier} does not exist: start the restore first")
    return Started("create_instance", plan.new_instance_identifier, resumed=False)


def poll_restore(client: RDSClient, plan: RestorePlan) -> RestoreStatus:
    """Where the restore is: `creating`, `available` with the endpoint, or `failed` with AWS's status.

    One describe call (two for Aurora: the cluster, then its writer instance). The runner decides
    how long to keep polling (`deadline_passed` with `RESTORE_TIME_LIMIT`).
    """
    if not plan.aurora:
        instance = describe_instance(client, plan.new_identifier)
        if instance is None:
            return RestoreStatus(State.FAILED, "the new instance does not exist", plan.new_identifier)
        status = status_of(instance)
        return _restore_status(plan, _restore_state(status), status, instance)

    cluster = describe_cluster(client, plan.new_identifier)
    if cluster is None:
        return RestoreStatus(State.FAILED, "the new cluster does not exist", plan.new_identifier)
    cluster_status = status_of(cluster)
    if _restore_state(cluster_status) is not State.AVAILABLE:
        return RestoreStatus(_restore_state(cluster_status), f"cluster {cluster_status}", plan.new_identifier)
    instance = describe_instance(client, plan.new_instance_identifier or "")
    if instance is None:
        return RestoreStatus(State.FAILED, f"cluster available, but instance {plan.new_instance_identifier} does not exist", plan.new_identifier)
    instance_status = status_of(instance)
    # The application connects to the cluster's endpoint, not the writer's.
    return _restore_status(plan, _restore_state(instance_status), f"cluster {cluster_status}, instance {instance_status}", cluster)


def _restore_status(plan: RestorePlan, state: State, status: str, answering: Mapping[str, Any]) -> RestoreStatus:
    if state is not State.AVAILABLE:
        return RestoreStatus(state, status, plan.new_identifier)
    address, port = endpoint_of(answering, plan.aurora)
    return RestoreStatus(state, status, plan.new_identifier, address, port)


def _restore_state(status: str) -> State:
    if status == "available":
        return State.AVAILABLE
    if status in _FAILED_STATUSES:
        return State.FAILED
    return State.CREATING


def _restorable_source(client: RDSClient, source_id: str, aurora: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The source's description, and for Aurora its writer's, whose class and settings the new writer copies."""
    if not aurora:
        source = require_instance(client, source_id)
        if source.get("DBClusterIdentifier"):
            raise RestoreRefused(f"instance {source_id} belongs to Aurora cluster {source['DBClusterIdentifier']}: configure the target's rds.cluster instead")
        return source, None
    source = require_cluster(client, source_id)
    engine = source.get("Engine", "")
    if not engine.startswith("aurora"):
        raise RestoreRefused(f"cluster {source_id} runs {engine} (a Multi-AZ DB cluster); only Aurora clusters can be restored here")
    writer_id = next((m["DBInstanceIdentifier"] for m in source.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
    if writer_id is None:
        raise RestoreRefused(f"cluster {source_id} has no writer instance to copy an instance class from")
    return source, require_instance(client, writer_id)


def _check_names_free(client: RDSClient, new_id: str, instance_id: str | None) -> None:
    if instance_id is None:
        if describe_instance(client, new_id) is not None:
            raise RestoreRefused(f"an instance named {new_id} already exists; choose another identifier")
        return
    if describe_cluster(client, new_id) is not None:
        raise RestoreRefused(f"a cluster named {new_id} already exists; choose another identifier")
    if describe_instance(client, instance_id) is not None:
        raise RestoreRefused(f"an instance named {instance_id} already exists; choose another identifier for the cluster")


def _copied_settings(shape: _Shape, source: Mapping[str, Any], same_major: bool) -> dict[str, Any]:
    """The source's settings the new resource gets: class, network, parameter groups, flags, logs."""
    aurora = shape.aurora
    copied: dict[str, Any] = {} if aurora else {"DBInstanceClass": source["DBInstanceClass"]}
    # An instance describes its subnet group as a record, a cluster by its name.
    subnet_group = source.get("DBSubnetGroup")
    if isinstance(subnet_group, Mapping):
        subnet_group = subnet_group.get("DBSubnetGroupName")
    if subnet_group:
        copied["DBSubnetGroupName"] = subnet_group
    security_groups = [group["VpcSecurityGroupId"] for group in source.get("VpcSecurityGroups", [])]
    if security_groups:
        copied["VpcSecurityGroupIds"] = security_groups
    if same_major:
        # Parameter and option groups belong to one major version.
        if aurora and source.get("DBClusterParameterGroup"):
            copied["DBClusterParameterGroupName"] = source["DBClusterParameterGroup"]
        if not aurora and source.get("DBParameterGroups"):
            copied["DBParameterGroupName"] = source["DBParameterGroups"][0]["DBParameterGroupName"]
        option_groups = [g["OptionGroupName"] for g in source.get("OptionGroupMemberships", []) if not g["OptionGroupName"].startswith("default:")]
        if not aurora and option_groups:
            copied["OptionGroupName"] = option_groups[0]
    for key, parameter in shape.copied_flags:
        if key in source:
            copied[parameter] = bool(source[key])
    if source.get("EnabledCloudwatchLogsExports"):
        copied["EnableCloudwatchLogsExports"] = list(source["EnabledCloudwatchLogsExports"])
    scaling = source.get("ServerlessV2ScalingConfiguration") or {}
    if aurora and "MinCapacity" in scaling and "MaxCapacity" in scaling:
        copied["ServerlessV2ScalingConfiguration"] = {"MinCapacity": scaling["MinCapacity"], "MaxCapacity": scaling["MaxCapacity"]}
    return copied


def _writer_call(source: Mapping[str, Any], writer: Mapping[str, Any], new_id: str, instance_id: str, same_major: bool) -> ApiCall:
    """Aurora: the writer instance of the new cluster, like the source's writer."""
    parameters: dict[str, Any] = {
        "DBInstanceIdentifier": instance_id,
        "DBClusterIdentifier": new_id,
        "Engine": source.get("Engine", ""),
        "DBInstanceClass": writer["DBInstanceClass"],
    }
    writer_groups = writer.get("DBParameterGroups") or []
    if same_major and writer_groups:
        parameters["DBParameterGroupName"] = writer_groups[0]["DBParameterGroupName"]
    if "PubliclyAccessible" in writer:
        parameters["PubliclyAccessible"] = bool(writer["PubliclyAccessible"])
    return ApiCall("create_db_instance", parameters)


def _check_point_in_time(
    source: str, window_of: Callable[[], RestorableWindow | None], point_in_time: datetime | None, use_latest: bool, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(the time to restore to, the latest restorable time) after checking it against the window."""
    if point_in_time is None and not use_latest:
        return None, None
    if point_in_time is not None and point_in_time.tzinfo is None:
        raise RestoreRefused("give the point in time with its time zone, for example 2024-05-01T12:00:00Z")
    window = window_of()
    if window is None:
        raise RestoreRefused(f"{source} keeps no automated backups, so it has no point-in-time restore; restore a snapshot instead")
    if point_in_time is None:
        return None, window.latest
    moment = point_in_time.astimezone(UTC)
    if moment > now:
        raise RestoreRefused(f"{iso(moment)} is in the future")
    if not window.contains(moment):
        raise RestoreRefused(f"{iso(moment)} is outside the restorable window of {source}: {iso(window.earliest)} to {iso(window.latest)}")
    return moment, window.latest


def _time_parameters(name: str, moment: datetime | None) -> dict[str, Any]:
    # botocore takes ISO 8601 strings for timestamps, which keeps the plan plain JSON.
    return {name: iso(moment)} if moment is not None else {"UseLatestRestorableTime": True}


def _major(version: str | None) -> str:
    """The major engine version as PostgreSQL counts it (9.6 before 10, then 10, 11, ...)."""
    parts = (version or "").split(".")
    return ".".join(parts[:2]) if parts[0] in ("9", "8") else parts[0]
