"""RDS for `restore` jobs: list backups, plan and start a restore to a NEW instance, poll it, and
cut over by renaming; also the snapshot taken before applying migrations.

Every function takes a boto3 RDS client and does a few short API calls, never a wait: a job runner
calls one function per step, journals the plain result (`to_dict()`), and polls again later,
asking `deadline_passed` when to give up. The runbook's Procedure C ("restore to a new instance")
becomes `plan_restore` → approval → `start_restore` → `poll_restore`; pointing the application at
the copy is a separate approved plan, `plan_cutover`, whose renames keep the application's
endpoint name.

Every `start_*` and rename is safe to run again after a worker died between the AWS call and its
journal entry: it looks first, and a resource that is already there counts as started only if it
carries this job's tag (`deploy-gate:job`). A plan only says what will run; nothing is created
until its `start_*` step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as AwsConnectionError

from service.config import RdsSettings

JOB_TAG = "deploy-gate:job"
SOURCE_TAG = "deploy-gate:source"

# Suggested limits for the runner's `deadline_passed`: a restore of a large database takes hours.
RESTORE_TIME_LIMIT = timedelta(hours=8)
SNAPSHOT_TIME_LIMIT = timedelta(hours=6)
RENAME_TIME_LIMIT = timedelta(minutes=30)

_IDENTIFIER = re.compile(r"^[a-z](?:-?[a-z0-9])*$")
_MAX_IDENTIFIER = 63
_MAX_SNAPSHOT_IDENTIFIER = 255

# AWS statuses after which a new instance or cluster will not become available by itself.
_FAILED_STATUSES = frozenset({
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
})
_FAILED_SNAPSHOT_STATUSES = frozenset({"failed", "error", "deleting", "deleted"})

_THROTTLED = frozenset({
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
})
_SERVER_SIDE = frozenset({"InternalFailure", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"})
# The resource is busy (backing up, modifying, renaming): the same call can succeed later.
_BUSY = frozenset({
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidDBClusterStateFault",
    "InvalidDBSnapshotState",
    "InvalidDBClusterSnapshotStateFault",
})
_INSTANCE_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
_CLUSTER_NOT_FOUND = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
_SNAPSHOT_NOT_FOUND = frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"})
_CLUSTER_SNAPSHOT_NOT_FOUND = frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"})


class RdsError(Exception):
    """An RDS call failed or cannot be made; `code` is AWS's error code when AWS gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RestoreRefused(RdsError):
    """The request cannot be carried out as asked; the message says why in plain words."""


class RdsUnavailable(RdsError):
    """Throttled, unreachable, an AWS-side error, or the resource is busy: try the step again later."""


class State(StrEnum):
    CREATING = "creating"  # still being made (or renamed); poll again later
    AVAILABLE = "available"  # ready to use
    FAILED = "failed"  # will not become available by itself; `status` says what AWS reports

    @property
    def final(self) -> bool:
        return self is not State.CREATING


class CutoverState(StrEnum):
    READY = "ready"  # nothing renamed yet
    RENAMING_OLD = "renaming_old"  # the old resource is moving to its new name
    OLD_AWAY = "old_away"  # the old name is free: time for `rename_new_in`
    RENAMING_NEW = "renaming_new"  # the new resource is taking the old name
    DONE = "done"  # the new resource answers under the old name


def rds_client(
    rds: RdsSettings,
    endpoint_url: str | None = None,
    *,
    max_attempts: int = 3,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> Any:
    """A boto3 RDS client for a target's region; credentials come from boto3's usual chain.

    botocore retries throttling and AWS-side errors a couple of times with short backoff; what is
    left surfaces as `RdsUnavailable` for the runner to reschedule.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client("rds", region_name=rds.region, endpoint_url=endpoint_url, config=config)


def job_tags(job_id: str, source: str) -> dict[str, str]:
    """The tags every resource a job creates carries, so a re-run recognises its own work."""
    return {JOB_TAG: str(job_id), SOURCE_TAG: source}


def deadline_passed(started_at: datetime, now: datetime, limit: timedelta) -> bool:
    """Whether a step begun at `started_at` has been polled for longer than `limit`."""
    return _aware(now, "now") - _aware(started_at, "started_at") > limit


def check_identifier(identifier: str, what: str = "identifier", *, max_length: int = _MAX_IDENTIFIER) -> str:
    """The identifier as RDS stores it (lower case), or `RestoreRefused` saying what is wrong."""
    name = identifier.strip().lower()
    if not name or len(name) > max_length:
        raise RestoreRefused(f"{what} {identifier!r} must be 1 to {max_length} characters long")
    if not _IDENTIFIER.match(name):
        raise RestoreRefused(
            f"{what} {identifier!r} is not valid for RDS: use letters, digits and hyphens, start with a "
            "letter, and do not end with a hyphen or use two hyphens in a row"
        )
    return name


def default_restore_identifier(source: str, now: datetime) -> str:
    return _derive(source, f"-restore-{_aware(now, 'now'):%Y%m%d%H%M}")


def default_snapshot_identifier(source: str, now: datetime) -> str:
    return _derive(source, f"-deploy-gate-{_aware(now, 'now'):%Y%m%d%H%M%S}", _MAX_SNAPSHOT_IDENTIFIER)


# Listing backups


@dataclass(frozen=True)
class Snapshot:
    id: str
    source: str
    type: str  # automated, manual, ...
    status: str
    created_at: datetime | None  # None while AWS has not started it
    engine_version: str | None = None
    progress_percent: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "status": self.status,
            "created_at": _iso(self.created_at),
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
        return {"earliest": _iso(self.earliest), "latest": _iso(self.latest)}


def list_snapshots(client: Any, rds: RdsSettings) -> list[Snapshot]:
    """The automated and manual snapshots of the target's instance or cluster, newest first."""
    source = _source_name(rds)
    if rds.cluster:
        raw = _paginate(client, "describe_db_cluster_snapshots", "DBClusterSnapshots", DBClusterIdentifier=source)
        snapshots = [_cluster_snapshot(item) for item in raw]
    else:
        raw = _paginate(client, "describe_db_snapshots", "DBSnapshots", DBInstanceIdentifier=source)
        snapshots = [_instance_snapshot(item) for item in raw]
    # A snapshot still being made has no time yet and is the newest of all.
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(snapshots, key=lambda s: s.created_at or far_future, reverse=True)


def restorable_window(client: Any, rds: RdsSettings) -> RestorableWindow | None:
    """The earliest and latest time a point-in-time restore can reach; None if backups are off."""
    if rds.cluster:
        return _cluster_window(_require_cluster(client, rds.cluster))
    return _instance_window(client, _require_instance(client, rds.instance or ""))


# Restoring to a new instance


@dataclass(frozen=True)
class ApiCall:
    """One RDS call exactly as it will be made (boto3 method name and parameters), minus `Tags`."""

    operation: str
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "parameters": dict(self.parameters)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiCall:
        return cls(data["operation"], dict(data["parameters"]))


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
            origin = f"{what} {self.source} as it was at {_iso(self.restore_time)}"
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
            "restore_time": _iso(self.restore_time),
            "latest_restorable_time": _iso(self.latest_restorable_time),
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
            restore_time=_from_iso(data.get("restore_time")),
            latest_restorable_time=_from_iso(data.get("latest_restorable_time")),
            new_identifier=data["new_identifier"],
            new_instance_identifier=data.get("new_instance_identifier"),
            instance_class=data["instance_class"],
            restore_call=ApiCall.from_dict(data["restore_call"]),
            instance_call=ApiCall.from_dict(data["instance_call"]) if data.get("instance_call") else None,
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True)
class Started:
    """A `start_*` or rename step's outcome; `resumed` means an earlier run had already done it."""

    action: str
    identifier: str
    resumed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "identifier": self.identifier, "resumed": self.resumed}


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


def plan_restore(
    client: Any,
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
    now = _aware(now, "now")
    if sum((snapshot_id is not None, point_in_time is not None, bool(use_latest))) != 1:
        raise RestoreRefused("name exactly one of a snapshot, a point in time, or the latest restorable time")
    source = _source_name(rds)
    new_id = check_identifier(new_identifier, "the new identifier") if new_identifier else default_restore_identifier(source, now)
    if new_id == source:
        raise RestoreRefused(f"the new identifier must differ from the source {source}: a restore never overwrites it")

    if rds.cluster:
        return _plan_cluster_restore(client, rds, snapshot_id, point_in_time, use_latest, new_id, now)
    return _plan_instance_restore(client, rds, snapshot_id, point_in_time, use_latest, new_id, now)


def start_restore(client: Any, plan: RestorePlan, tags: Mapping[str, str]) -> Started:
    """Start the approved restore (the new instance, or for Aurora the new cluster)."""
    _require_job_tag(tags)
    if plan.aurora:
        existing = _describe_cluster(client, plan.new_identifier)
        action = "restore_cluster"
    else:
        existing = _describe_instance(client, plan.new_identifier)
        action = "restore_instance"
    if existing is not None:
        _check_ours(existing, tags, f"{'cluster' if plan.aurora else 'instance'} {plan.new_identifier}")
        return Started(action, plan.new_identifier, resumed=True)
    _call(client, plan.restore_call.operation, **plan.restore_call.parameters, Tags=_tag_list(tags))
    return Started(action, plan.new_identifier, resumed=False)


def start_restore_instance(client: Any, plan: RestorePlan, tags: Mapping[str, str]) -> Started:
    """Aurora only, after `start_restore`: create the writer instance in the new cluster.

    If the cluster cannot take an instance yet, raises `RdsUnavailable`: run the step again later.
    """
    if not plan.aurora or plan.instance_call is None or plan.new_instance_identifier is None:
        raise ValueError("start_restore_instance is for Aurora restore plans only")
    _require_job_tag(tags)
    existing = _describe_instance(client, plan.new_instance_identifier)
    if existing is not None:
        _check_ours(existing, tags, f"instance {plan.new_instance_identifier}")
        if existing.get("DBClusterIdentifier", "").lower() != plan.new_identifier:
            raise RestoreRefused(f"instance {plan.new_instance_identifier} exists outside cluster {plan.new_identifier}")
        return Started("create_instance", plan.new_instance_identifier, resumed=True)
    created = _call(
        client, plan.instance_call.operation, absent=_CLUSTER_NOT_FOUND, **plan.instance_call.parameters, Tags=_tag_list(tags)
    )
    if created is None:
        raise RestoreRefused(f"cluster {plan.new_identifier} does not exist: start the restore first")
    return Started("create_instance", plan.new_instance_identifier, resumed=False)


def poll_restore(client: Any, plan: RestorePlan) -> RestoreStatus:
    """Where the restore is: `creating`, `available` with the endpoint, or `failed` with AWS's status.

    One describe call (two for Aurora: the cluster, then its writer instance). The runner decides
    how long to keep polling (`deadline_passed`).
    """
    if not plan.aurora:
        instance = _describe_instance(client, plan.new_identifier)
        if instance is None:
            return RestoreStatus(State.FAILED, "the new instance does not exist", plan.new_identifier)
        status = instance.get("DBInstanceStatus", "unknown")
        state = _restore_state(status)
        if state is not State.AVAILABLE:
            return RestoreStatus(state, status, plan.new_identifier)
        address, port = _endpoint(instance, aurora=False)
        return RestoreStatus(state, status, plan.new_identifier, address, port)

    cluster = _describe_cluster(client, plan.new_identifier)
    if cluster is None:
        return RestoreStatus(State.FAILED, "the new cluster does not exist", plan.new_identifier)
    cluster_status = cluster.get("Status", "unknown")
    if _restore_state(cluster_status) is not State.AVAILABLE:
        return RestoreStatus(_restore_state(cluster_status), f"cluster {cluster_status}", plan.new_identifier)
    instance = _describe_instance(client, plan.new_instance_identifier or "")
    if instance is None:
        return RestoreStatus(State.FAILED, f"cluster available, but instance {plan.new_instance_identifier} does not exist", plan.new_identifier)
    instance_status = instance.get("DBInstanceStatus", "unknown")
    state = _restore_state(instance_status)
    status = f"cluster {cluster_status}, instance {instance_status}"
    if state is not State.AVAILABLE:
        return RestoreStatus(state, status, plan.new_identifier)
    return RestoreStatus(state, status, plan.new_identifier, cluster.get("Endpoint"), cluster.get("Port"))


# Snapshot before applying migrations


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


def start_snapshot(client: Any, rds: RdsSettings, snapshot_id: str, tags: Mapping[str, str]) -> Started:
    """Start a manual snapshot of the target's instance or cluster (idempotent like `start_restore`)."""
    _require_job_tag(tags)
    source = _source_name(rds)
    snapshot_id = check_identifier(snapshot_id, "snapshot identifier", max_length=_MAX_SNAPSHOT_IDENTIFIER)
    existing = _describe_snapshot(client, rds, snapshot_id)
    if existing is not None:
        owner = existing.get("DBClusterIdentifier" if rds.cluster else "DBInstanceIdentifier", "")
        if owner.lower() != source:
            raise RestoreRefused(f"snapshot {snapshot_id} already exists and belongs to {owner}, not {source}")
        _check_ours(existing, tags, f"snapshot {snapshot_id}")
        return Started("snapshot", snapshot_id, resumed=True)
    if rds.cluster:
        created = _call(
            client, "create_db_cluster_snapshot", absent=_CLUSTER_NOT_FOUND,
            DBClusterIdentifier=source, DBClusterSnapshotIdentifier=snapshot_id, Tags=_tag_list(tags),
        )
    else:
        created = _call(
            client, "create_db_snapshot", absent=_INSTANCE_NOT_FOUND,
            DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot_id, Tags=_tag_list(tags),
        )
    if created is None:
        raise RestoreRefused(f"there is no RDS {'cluster' if rds.cluster else 'instance'} named {source}")
    return Started("snapshot", snapshot_id, resumed=False)


def poll_snapshot(client: Any, rds: RdsSettings, snapshot_id: str) -> SnapshotStatus:
    """One describe call: `creating` (with progress), `available`, or `failed`."""
    snapshot_id = snapshot_id.lower()
    existing = _describe_snapshot(client, rds, snapshot_id)
    if existing is None:
        return SnapshotStatus(State.FAILED, "the snapshot does not exist", snapshot_id)
    status = existing.get("Status", "unknown")
    if status == "available":
        state = State.AVAILABLE
    elif status in _FAILED_SNAPSHOT_STATUSES:
        state = State.FAILED
    else:
        state = State.CREATING
    return SnapshotStatus(state, status, snapshot_id, existing.get("PercentProgress"))


# Cut-over: the restored copy takes the source's name


@dataclass(frozen=True)
class CutoverPlan:
    """Rename the old resource away, then the new one to the old name (which the application uses)."""

    region: str
    aurora: bool
    name: str  # the application's name: the old resource now, the new one afterwards
    old_renamed_to: str
    new_identifier: str
    new_job: str  # the restore job's tag on the new resource: how each step tells new from old
    rename_old_call: ApiCall
    rename_new_call: ApiCall

    @property
    def summary(self) -> str:
        what = "cluster" if self.aurora else "instance"
        return (
            f"Rename {what} {self.name} to {self.old_renamed_to}, wait until it is available, then rename "
            f"{what} {self.new_identifier} to {self.name}. Connections to {self.name} drop during the renames."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "aurora": self.aurora,
            "name": self.name,
            "old_renamed_to": self.old_renamed_to,
            "new_identifier": self.new_identifier,
            "new_job": self.new_job,
            "rename_old_call": self.rename_old_call.to_dict(),
            "rename_new_call": self.rename_new_call.to_dict(),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CutoverPlan:
        return cls(
            region=data["region"],
            aurora=bool(data["aurora"]),
            name=data["name"],
            old_renamed_to=data["old_renamed_to"],
            new_identifier=data["new_identifier"],
            new_job=data["new_job"],
            rename_old_call=ApiCall.from_dict(data["rename_old_call"]),
            rename_new_call=ApiCall.from_dict(data["rename_new_call"]),
        )


@dataclass(frozen=True)
class CutoverStatus:
    state: CutoverState
    status: str
    endpoint: str | None = None
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "status": self.status, "endpoint": self.endpoint, "port": self.port}


def plan_cutover(
    client: Any,
    rds: RdsSettings,
    new_identifier: str,
    now: datetime,
    *,
    old_renamed_to: str | None = None,
) -> CutoverPlan:
    """Check that the restored copy can take the source's name; starts nothing.

    The new resource must be available and carry the tags `start_restore` put on it (restored by
    deploy-gate from this source); the old one must be available; the name it moves to must be free.
    """
    now = _aware(now, "now")
    name = _source_name(rds)
    new_id = check_identifier(new_identifier, "the new identifier")
    if new_id == name:
        raise RestoreRefused(f"{new_id} already has the name {name}: nothing to cut over")
    away = check_identifier(old_renamed_to, "the old resource's new name") if old_renamed_to else _derive(name, f"-old-{now:%Y%m%d%H%M}")
    if away in (name, new_id):
        raise RestoreRefused(f"the old resource cannot be renamed to {away}")
    aurora = bool(rds.cluster)
    what = "cluster" if aurora else "instance"
    describe = _describe_cluster if aurora else _describe_instance

    old = describe(client, name)
    if old is None:
        raise RestoreRefused(f"{what} {name} does not exist in {rds.region}")
    new = describe(client, new_id)
    if new is None:
        raise RestoreRefused(f"{what} {new_id} does not exist in {rds.region}")
    for identifier, resource in ((name, old), (new_id, new)):
        status = _status(resource)
        if status != "available":
            raise RestoreRefused(f"{what} {identifier} is {status}; both must be available before a cut-over")
    tags = _tags(new)
    if not tags.get(JOB_TAG) or tags.get(SOURCE_TAG, "").lower() != name:
        raise RestoreRefused(f"{what} {new_id} was not restored from {name} by deploy-gate (it lacks the {JOB_TAG} and {SOURCE_TAG} tags)")
    if _tags(old).get(JOB_TAG) == tags[JOB_TAG]:
        raise RestoreRefused(f"{what} {name} carries the same job tag as {new_id}; cannot tell them apart")
    if aurora and not any(member.get("IsClusterWriter") for member in new.get("DBClusterMembers", [])):
        raise RestoreRefused(f"cluster {new_id} has no writer instance yet; it cannot serve the application")
    if describe(client, away) is not None:
        raise RestoreRefused(f"{what} {away} already exists; choose another name for the old {what}")

    return CutoverPlan(
        region=rds.region,
        aurora=aurora,
        name=name,
        old_renamed_to=away,
        new_identifier=new_id,
        new_job=tags[JOB_TAG],
        rename_old_call=_rename_call(aurora, name, away),
        rename_new_call=_rename_call(aurora, new_id, name),
    )


def rename_old_away(client: Any, plan: CutoverPlan) -> Started:
    """Rename the old resource to `plan.old_renamed_to`; recognises a rename done by an earlier run.

    Then poll until `poll_rename` says `old_away` (`ready` or `renaming_old` mean not yet).
    """
    current = _cutover_resource(client, plan, plan.name)
    if current is not None and _is_new(current, plan):
        return Started("rename_old_away", plan.old_renamed_to, resumed=True)
    away = _cutover_resource(client, plan, plan.old_renamed_to)
    if current is not None:
        if away is not None:
            raise RestoreRefused(f"{plan.old_renamed_to} was taken after the cut-over was planned; plan it again")
        # A rename already under way makes AWS answer "invalid state": RdsUnavailable, try later.
        _call(client, plan.rename_old_call.operation, **plan.rename_old_call.parameters)
        return Started("rename_old_away", plan.old_renamed_to, resumed=False)
    if away is None:
        raise RdsUnavailable(f"neither {plan.name} nor {plan.old_renamed_to} is visible; a rename may be under way")
    if _is_new(away, plan):
        raise RestoreRefused(f"{plan.old_renamed_to} holds the restored copy, not the old resource; check by hand")
    return Started("rename_old_away", plan.old_renamed_to, resumed=True)


def rename_new_in(client: Any, plan: CutoverPlan) -> Started:
    """Rename the restored copy to the old name, once `poll_rename` says `old_away`."""
    current = _cutover_resource(client, plan, plan.name)
    if current is not None:
        if _is_new(current, plan):
            return Started("rename_new_in", plan.name, resumed=True)
        raise RestoreRefused(f"{plan.name} still names the old resource: rename it away first")
    new = _cutover_resource(client, plan, plan.new_identifier)
    if new is None:
        raise RdsUnavailable(f"neither {plan.name} nor {plan.new_identifier} is visible; a rename may be under way")
    if not _is_new(new, plan):
        raise RestoreRefused(f"{plan.new_identifier} no longer carries job tag {plan.new_job}; check by hand")
    _call(client, plan.rename_new_call.operation, **plan.rename_new_call.parameters)
    return Started("rename_new_in", plan.name, resumed=False)


def poll_rename(client: Any, plan: CutoverPlan) -> CutoverStatus:
    """How far the cut-over has got, from what the three names hold now (one to three describes).

    After `rename_old_away`, poll until `old_away` (`ready` or `renaming_old` mean not yet); after
    `rename_new_in`, until `done`, which carries the endpoint the application already uses.
    """
    current = _cutover_resource(client, plan, plan.name)
    if current is not None and _is_new(current, plan):
        status = _status(current)
        if status != "available":
            return CutoverStatus(CutoverState.RENAMING_NEW, f"{plan.name} (the restored copy) is {status}")
        address, port = _endpoint(current, plan.aurora)
        return CutoverStatus(CutoverState.DONE, f"{plan.name} is the restored copy and available", address, port)
    if current is not None:
        status = _status(current)
        if status == "available":
            return CutoverStatus(CutoverState.READY, f"{plan.name} is still the old resource")
        return CutoverStatus(CutoverState.RENAMING_OLD, f"{plan.name} (the old resource) is {status}")
    away = _cutover_resource(client, plan, plan.old_renamed_to)
    if away is None or _status(away) != "available":
        status = "not visible yet" if away is None else _status(away)
        return CutoverStatus(CutoverState.RENAMING_OLD, f"{plan.old_renamed_to} is {status}")
    new = _cutover_resource(client, plan, plan.new_identifier)
    if new is None:
        return CutoverStatus(CutoverState.RENAMING_NEW, f"{plan.new_identifier} is moving to {plan.name}")
    return CutoverStatus(CutoverState.OLD_AWAY, f"{plan.name} is free; {plan.new_identifier} is {_status(new)}")


# Planning helpers


def _plan_instance_restore(
    client: Any,
    rds: RdsSettings,
    snapshot_id: str | None,
    point_in_time: datetime | None,
    use_latest: bool,
    new_id: str,
    now: datetime,
) -> RestorePlan:
    source_id = rds.instance or ""
    source = _require_instance(client, source_id)
    if source.get("DBClusterIdentifier"):
        raise RestoreRefused(
            f"instance {source_id} belongs to Aurora cluster {source['DBClusterIdentifier']}: "
            "configure the target's rds.cluster instead"
        )
    notes: list[str] = []
    snapshot = None
    if snapshot_id is not None:
        snapshot = _instance_snapshot_for(client, source_id, snapshot_id)
    restore_time, latest = _check_point_in_time(
        source_id, lambda: _instance_window(client, source), point_in_time, use_latest, now
    )
    if _describe_instance(client, new_id) is not None:
        raise RestoreRefused(f"an instance named {new_id} already exists; choose another identifier")

    same_major = snapshot is None or _major(snapshot.get("EngineVersion")) == _major(source.get("EngineVersion"))
    copied: dict[str, Any] = {"DBInstanceClass": source["DBInstanceClass"]}
    subnet_group = (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    if subnet_group:
        copied["DBSubnetGroupName"] = subnet_group
    security_groups = [group["VpcSecurityGroupId"] for group in source.get("VpcSecurityGroups", [])]
    if security_groups:
        copied["VpcSecurityGroupIds"] = security_groups
    parameter_groups = source.get("DBParameterGroups") or []
    option_groups = [g["OptionGroupName"] for g in source.get("OptionGroupMemberships", []) if not g["OptionGroupName"].startswith("default:")]
    if same_major:
        if parameter_groups:
            copied["DBParameterGroupName"] = parameter_groups[0]["DBParameterGroupName"]
        if option_groups:
            copied["OptionGroupName"] = option_groups[0]
    else:
        notes.append(
            f"snapshot {snapshot_id} holds {source.get('Engine')} {snapshot.get('EngineVersion')}, the source now runs "
            f"{source.get('EngineVersion')}: the new instance gets the default parameter group"
        )
    for key, option in (("PubliclyAccessible", "PubliclyAccessible"), ("MultiAZ", "MultiAZ"),
                        ("CopyTagsToSnapshot", "CopyTagsToSnapshot"), ("DeletionProtection", "DeletionProtection"),
                        ("IAMDatabaseAuthenticationEnabled", "EnableIAMDatabaseAuthentication")):
        if key in source:
            copied[option] = bool(source[key])
    if source.get("EnabledCloudwatchLogsExports"):
        copied["EnableCloudwatchLogsExports"] = list(source["EnabledCloudwatchLogsExports"])

    if snapshot is not None:
        call = ApiCall("restore_db_instance_from_db_snapshot", {
            "DBInstanceIdentifier": new_id,
            "DBSnapshotIdentifier": snapshot["DBSnapshotIdentifier"],
            **copied,
        })
    else:
        call = ApiCall("restore_db_instance_to_point_in_time", {
            "SourceDBInstanceIdentifier": source_id,
            "TargetDBInstanceIdentifier": new_id,
            **_time_parameters("RestoreTime", restore_time),
            **copied,
        })
    return RestorePlan(
        region=rds.region,
        source=source_id,
        aurora=False,
        kind="snapshot" if snapshot is not None else "point_in_time",
        snapshot_id=snapshot["DBSnapshotIdentifier"] if snapshot is not None else None,
        restore_time=restore_time,
        latest_restorable_time=latest,
        new_identifier=new_id,
        new_instance_identifier=None,
        instance_class=source["DBInstanceClass"],
        restore_call=call,
        instance_call=None,
        notes=tuple(notes),
    )


def _plan_cluster_restore(
    client: Any,
    rds: RdsSettings,
    snapshot_id: str | None,
    point_in_time: datetime | None,
    use_latest: bool,
    new_id: str,
    now: datetime,
) -> RestorePlan:
    source_id = rds.cluster or ""
    source = _require_cluster(client, source_id)
    engine = source.get("Engine", "")
    if not engine.startswith("aurora"):
        raise RestoreRefused(f"cluster {source_id} runs {engine} (a Multi-AZ DB cluster); only Aurora clusters can be restored here")
    writer_id = next((m["DBInstanceIdentifier"] for m in source.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
    if writer_id is None:
        raise RestoreRefused(f"cluster {source_id} has no writer instance to copy an instance class from")
    writer = _require_instance(client, writer_id)
    notes: list[str] = []
    snapshot = None
    if snapshot_id is not None:
        snapshot = _cluster_snapshot_for(client, source_id, snapshot_id)
    restore_time, latest = _check_point_in_time(source_id, lambda: _cluster_window(source), point_in_time, use_latest, now)
    instance_id = _derive(new_id, "-instance-1")
    if _describe_cluster(client, new_id) is not None:
        raise RestoreRefused(f"a cluster named {new_id} already exists; choose another identifier")
    if _describe_instance(client, instance_id) is not None:
        raise RestoreRefused(f"an instance named {instance_id} already exists; choose another identifier for the cluster")

    same_major = snapshot is None or _major(snapshot.get("EngineVersion")) == _major(source.get("EngineVersion"))
    copied: dict[str, Any] = {}
    if source.get("DBSubnetGroup"):
        copied["DBSubnetGroupName"] = source["DBSubnetGroup"]
    security_groups = [group["VpcSecurityGroupId"] for group in source.get("VpcSecurityGroups", [])]
    if security_groups:
        copied["VpcSecurityGroupIds"] = security_groups
    if same_major and source.get("DBClusterParameterGroup"):
        copied["DBClusterParameterGroupName"] = source["DBClusterParameterGroup"]
    elif not same_major:
        notes.append(
            f"snapshot {snapshot_id} holds {engine} {snapshot.get('EngineVersion')}, the source now runs "
            f"{source.get('EngineVersion')}: the new cluster and instance get default parameter groups"
        )
    for key, option in (("CopyTagsToSnapshot", "CopyTagsToSnapshot"), ("DeletionProtection", "DeletionProtection"),
                        ("IAMDatabaseAuthenticationEnabled", "EnableIAMDatabaseAuthentication")):
        if key in source:
            copied[option] = bool(source[key])
    if source.get("EnabledCloudwatchLogsExports"):
        copied["EnableCloudwatchLogsExports"] = list(source["EnabledCloudwatchLogsExports"])
    scaling = source.get("ServerlessV2ScalingConfiguration") or {}
    if "MinCapacity" in scaling and "MaxCapacity" in scaling:
        copied["ServerlessV2ScalingConfiguration"] = {"MinCapacity": scaling["MinCapacity"], "MaxCapacity": scaling["MaxCapacity"]}

    if snapshot is not None:
        call = ApiCall("restore_db_cluster_from_snapshot", {
            "DBClusterIdentifier": new_id,
            "SnapshotIdentifier": snapshot["DBClusterSnapshotIdentifier"],
            "Engine": snapshot.get("Engine") or engine,
            **copied,
        })
    else:
        call = ApiCall("restore_db_cluster_to_point_in_time", {
            "DBClusterIdentifier": new_id,
            "SourceDBClusterIdentifier": source_id,
            # full-copy: a clone (copy-on-write) would share storage with the damaged source.
            "RestoreType": "full-copy",
            **_time_parameters("RestoreToTime", restore_time),
            **copied,
        })
    instance_parameters: dict[str, Any] = {
        "DBInstanceIdentifier": instance_id,
        "DBClusterIdentifier": new_id,
        "Engine": engine,
        "DBInstanceClass": writer["DBInstanceClass"],
    }
    writer_groups = writer.get("DBParameterGroups") or []
    if same_major and writer_groups:
        instance_parameters["DBParameterGroupName"] = writer_groups[0]["DBParameterGroupName"]
    if "PubliclyAccessible" in writer:
        instance_parameters["PubliclyAccessible"] = bool(writer["PubliclyAccessible"])
    return RestorePlan(
        region=rds.region,
        source=source_id,
        aurora=True,
        kind="snapshot" if snapshot is not None else "point_in_time",
        snapshot_id=snapshot["DBClusterSnapshotIdentifier"] if snapshot is not None else None,
        restore_time=restore_time,
        latest_restorable_time=latest,
        new_identifier=new_id,
        new_instance_identifier=instance_id,
        instance_class=writer["DBInstanceClass"],
        restore_call=call,
        instance_call=ApiCall("create_db_instance", instance_parameters),
        notes=tuple(notes),
    )


def _instance_snapshot_for(client: Any, source_id: str, snapshot_id: str) -> dict[str, Any]:
    found = _call(client, "describe_db_snapshots", absent=_SNAPSHOT_NOT_FOUND, DBSnapshotIdentifier=snapshot_id)
    snapshots = (found or {}).get("DBSnapshots", [])
    if not snapshots:
        raise RestoreRefused(f"there is no snapshot named {snapshot_id}")
    snapshot = snapshots[0]
    owner = snapshot.get("DBInstanceIdentifier", "")
    if owner.lower() != source_id:
        raise RestoreRefused(f"snapshot {snapshot_id} is of instance {owner}, not of {source_id}")
    if snapshot.get("Status") != "available":
        raise RestoreRefused(f"snapshot {snapshot_id} is {snapshot.get('Status')}, not available")
    return snapshot


def _cluster_snapshot_for(client: Any, source_id: str, snapshot_id: str) -> dict[str, Any]:
    found = _call(client, "describe_db_cluster_snapshots", absent=_CLUSTER_SNAPSHOT_NOT_FOUND, DBClusterSnapshotIdentifier=snapshot_id)
    snapshots = (found or {}).get("DBClusterSnapshots", [])
    if not snapshots:
        raise RestoreRefused(f"there is no cluster snapshot named {snapshot_id}")
    snapshot = snapshots[0]
    owner = snapshot.get("DBClusterIdentifier", "")
    if owner.lower() != source_id:
        raise RestoreRefused(f"snapshot {snapshot_id} is of cluster {owner}, not of {source_id}")
    if snapshot.get("Status") != "available":
        raise RestoreRefused(f"snapshot {snapshot_id} is {snapshot.get('Status')}, not available")
    return snapshot


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
        raise RestoreRefused(f"{_iso(moment)} is in the future")
    if not window.contains(moment):
        raise RestoreRefused(
            f"{_iso(moment)} is outside the restorable window of {source}: "
            f"{_iso(window.earliest)} to {_iso(window.latest)}"
        )
    return moment, window.latest


def _time_parameters(name: str, moment: datetime | None) -> dict[str, Any]:
    # botocore takes ISO 8601 strings for timestamps, which keeps the plan plain JSON.
    return {name: _iso(moment)} if moment is not None else {"UseLatestRestorableTime": True}


def _instance_window(client: Any, instance: dict[str, Any]) -> RestorableWindow | None:
    latest = instance.get("LatestRestorableTime")
    retention = instance.get("BackupRetentionPeriod") or 0
    if latest is None or retention <= 0:
        return None
    earliest = None
    found = _call(client, "describe_db_instance_automated_backups", DBInstanceIdentifier=instance["DBInstanceIdentifier"])
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
    return RestorableWindow(_utc(earliest), _utc(latest))


def _cluster_window(cluster: dict[str, Any]) -> RestorableWindow | None:
    earliest, latest = cluster.get("EarliestRestorableTime"), cluster.get("LatestRestorableTime")
    if earliest is None or latest is None:
        return None
    return RestorableWindow(_utc(earliest), _utc(latest))


# Describing


def _source_name(rds: RdsSettings) -> str:
    if bool(rds.instance) == bool(rds.cluster):
        raise ValueError("RdsSettings needs exactly one of instance or cluster")
    return (rds.cluster or rds.instance or "").lower()


def _describe_instance(client: Any, identifier: str) -> dict[str, Any] | None:
    found = _call(client, "describe_db_instances", absent=_INSTANCE_NOT_FOUND, DBInstanceIdentifier=identifier)
    instances = (found or {}).get("DBInstances", [])
    return instances[0] if instances else None


def _describe_cluster(client: Any, identifier: str) -> dict[str, Any] | None:
    found = _call(client, "describe_db_clusters", absent=_CLUSTER_NOT_FOUND, DBClusterIdentifier=identifier)
    clusters = (found or {}).get("DBClusters", [])
    return clusters[0] if clusters else None


def _require_instance(client: Any, identifier: str) -> dict[str, Any]:
    instance = _describe_instance(client, identifier)
    if instance is None:
        raise RestoreRefused(f"there is no RDS instance named {identifier}")
    return instance


def _require_cluster(client: Any, identifier: str) -> dict[str, Any]:
    cluster = _describe_cluster(client, identifier)
    if cluster is None:
        raise RestoreRefused(f"there is no RDS cluster named {identifier}")
    return cluster


def _describe_snapshot(client: Any, rds: RdsSettings, snapshot_id: str) -> dict[str, Any] | None:
    if rds.cluster:
        found = _call(client, "describe_db_cluster_snapshots", absent=_CLUSTER_SNAPSHOT_NOT_FOUND, DBClusterSnapshotIdentifier=snapshot_id)
        snapshots = (found or {}).get("DBClusterSnapshots", [])
    else:
        found = _call(client, "describe_db_snapshots", absent=_SNAPSHOT_NOT_FOUND, DBSnapshotIdentifier=snapshot_id)
        snapshots = (found or {}).get("DBSnapshots", [])
    return snapshots[0] if snapshots else None


def _instance_snapshot(item: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=item["DBSnapshotIdentifier"],
        source=item.get("DBInstanceIdentifier", ""),
        type=item.get("SnapshotType", "unknown"),
        status=item.get("Status", "unknown"),
        created_at=_utc(item["SnapshotCreateTime"]) if item.get("SnapshotCreateTime") else None,
        engine_version=item.get("EngineVersion"),
        progress_percent=item.get("PercentProgress"),
    )


def _cluster_snapshot(item: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=item["DBClusterSnapshotIdentifier"],
        source=item.get("DBClusterIdentifier", ""),
        type=item.get("SnapshotType", "unknown"),
        status=item.get("Status", "unknown"),
        created_at=_utc(item["SnapshotCreateTime"]) if item.get("SnapshotCreateTime") else None,
        engine_version=item.get("EngineVersion"),
        progress_percent=item.get("PercentProgress"),
    )


def _cutover_resource(client: Any, plan: CutoverPlan, identifier: str) -> dict[str, Any] | None:
    return _describe_cluster(client, identifier) if plan.aurora else _describe_instance(client, identifier)


def _is_new(resource: dict[str, Any], plan: CutoverPlan) -> bool:
    return _tags(resource).get(JOB_TAG) == plan.new_job


def _rename_call(aurora: bool, identifier: str, new_name: str) -> ApiCall:
    if aurora:
        return ApiCall("modify_db_cluster", {"DBClusterIdentifier": identifier, "NewDBClusterIdentifier": new_name, "ApplyImmediately": True})
    return ApiCall("modify_db_instance", {"DBInstanceIdentifier": identifier, "NewDBInstanceIdentifier": new_name, "ApplyImmediately": True})


def _status(resource: dict[str, Any]) -> str:
    return resource.get("DBInstanceStatus") or resource.get("Status") or "unknown"


def _endpoint(resource: dict[str, Any], aurora: bool) -> tuple[str | None, int | None]:
    if aurora:
        return resource.get("Endpoint"), resource.get("Port")
    endpoint = resource.get("Endpoint") or {}
    return endpoint.get("Address"), endpoint.get("Port")


def _restore_state(status: str) -> State:
    if status == "available":
        return State.AVAILABLE
    if status in _FAILED_STATUSES:
        return State.FAILED
    return State.CREATING


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in resource.get("TagList") or []}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _require_job_tag(tags: Mapping[str, str]) -> None:
    if not tags.get(JOB_TAG):
        raise ValueError(f"tags must carry {JOB_TAG} so that a re-run can recognise its own work")


def _check_ours(resource: Mapping[str, Any], tags: Mapping[str, str], what: str) -> None:
    found = _tags(resource).get(JOB_TAG)
    if found != tags[JOB_TAG]:
        owner = f"job {found}" if found else "someone else"
        raise RestoreRefused(f"{what} already exists and was made by {owner}, not by this job; choose another identifier")


# Calling AWS


@contextmanager
def _translated(operation: str, absent: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn botocore's errors into ours; an error code in `absent` ("not found") is swallowed."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        if code in absent:
            return
        message = f"{operation}: {details.get('Message') or code}"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in _THROTTLED or code in _SERVER_SIDE or code in _BUSY or status >= 500:
            raise RdsUnavailable(message, code=code) from error
        raise RdsError(message, code=code) from error
    except (AwsConnectionError, HTTPClientError) as error:
        raise RdsUnavailable(f"{operation}: cannot reach RDS ({type(error).__name__})") from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise RdsError(f"{operation}: no usable AWS credentials were found") from error
    except BotoCoreError as error:
        raise RdsError(f"{operation}: {error}") from error


def _call(client: Any, operation: str, *, absent: frozenset[str] = frozenset(), **parameters: Any) -> dict[str, Any] | None:
    """One API call; None when AWS answers with one of the `absent` (not found) error codes."""
    with _translated(operation, absent):
        return getattr(client, operation)(**parameters)
    return None


def _paginate(client: Any, operation: str, key: str, **parameters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with _translated(operation):
        for page in client.get_paginator(operation).paginate(**parameters):
            items.extend(page.get(key, []))
    return items


# Small helpers


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _derive(base: str, suffix: str, limit: int = _MAX_IDENTIFIER) -> str:
    """`base` + `suffix`, shortening `base` to fit the limit without leaving a hyphen at the cut."""
    return base[: limit - len(suffix)].rstrip("-") + suffix


def _major(version: str | None) -> str:
    """The major engine version as PostgreSQL counts it (9.6 before 10, then 10, 11, ...)."""
    parts = (version or "").split(".")
    return ".".join(parts[:2]) if parts[0] in ("9", "8") else parts[0]
