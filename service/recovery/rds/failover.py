"""Fail over to the target's read replica (the runbook's "If instance is failing: failover to read
replica (if configured)"): `plan_failover` → approval → `start_failover` → `poll_failover` until the
replica serves writes, or until the runner's `FAILOVER_TIME_LIMIT`.

- An instance: its read replica (`rds.read_replica`) is promoted to a standalone instance
  (`promote_read_replica`). The replica keeps its own name and endpoint; the old instance is left
  as it is, no longer replicating to it, so the application must be pointed at the new endpoint.
- An Aurora cluster: `failover_db_cluster` makes the named reader instance the writer. The
  cluster's endpoint follows the writer, so an application that uses it needs no change.

Each function makes a few short API calls, never a wait. A plan only says what will run; nothing
changes until `start_failover`, which recognises a promotion or failover an earlier run asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.client import RestoreRefused, call
from service.recovery.rds.resources import (
    ApiCall,
    Started,
    State,
    check_identifier,
    describe_cluster,
    describe_instance,
    endpoint_of,
    require_cluster,
    source_name,
    status_of,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# A promotion takes minutes (longer with a replication backlog), an Aurora failover about one;
# past this the runner stops polling and blocks.
FAILOVER_TIME_LIMIT = timedelta(hours=1)

# AWS statuses after which an instance will not become available by itself.
_FAILED_STATUSES = frozenset(
    {
        "failed",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-credentials",
        "storage-full",
        "inaccessible-encryption-credentials",
        "deleting",
        "stopped",
    }
)


@dataclass(frozen=True)
class FailoverPlan:
    """What a failover will do, for an operator to approve; JSON round-trips through to_dict/from_dict."""

    region: str
    source: str  # the instance whose replica is promoted, or the Aurora cluster failed over
    aurora: bool
    replica: str  # the instance that serves writes afterwards
    writer: str | None  # Aurora: the writer before the failover
    failover_call: ApiCall
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        if self.aurora:
            return (
                f"Fail Aurora cluster {self.source} over to its reader instance {self.replica}, which becomes the writer "
                f"(now {self.writer}); the cluster's endpoint follows the writer."
            )
        return (
            f"Promote read replica {self.replica} of instance {self.source} to a standalone instance; {self.source} is not changed, "
            f"and the application must then be pointed at {self.replica}'s endpoint."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "failover",
            "region": self.region,
            "source": self.source,
            "aurora": self.aurora,
            "replica": self.replica,
            "writer": self.writer,
            "failover_call": self.failover_call.to_dict(),
            "notes": list(self.notes),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FailoverPlan:
        return cls(
            region=data["region"],
            source=data["source"],
            aurora=bool(data["aurora"]),
            replica=data["replica"],
            writer=data.get("writer"),
            failover_call=ApiCall.from_dict(data["failover_call"]),
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True)
class FailoverStatus:
    state: State  # AVAILABLE: the replica serves writes
    status: str  # AWS's own words
    identifier: str  # the replica
    endpoint: str | None = None  # what the application connects to: the promoted instance's, or the cluster's
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "status": self.status, "identifier": self.identifier, "endpoint": self.endpoint, "port": self.port}


def configured_replica(rds: RdsSettings, target: str) -> str:
    """The target's read replica as RDS stores its name, or `RestoreRefused` saying how to configure one."""
    if not rds.read_replica:
        raise RestoreRefused(no_replica_words(target, rds))
    return check_identifier(rds.read_replica, "read_replica")


def no_replica_words(target: str, rds: RdsSettings | None = None) -> str:
    """How to give a target a replica to fail over to, for the person who asked for a failover."""
    if rds is None:
        return (
            f"target {target} names no RDS instance or cluster, so it has no read replica to fail over to: add [targets.{target}.rds] "
            'with region, instance (or cluster) and read_replica = "<the replica\'s identifier>" to the targets file'
        )
    what = f"Aurora cluster {rds.cluster}'s reader instance" if rds.cluster else f"read replica of instance {rds.instance}"
    return f'target {target} names no read replica to fail over to: add read_replica = "<the {what}>" to [targets.{target}.rds] in the targets file'


def plan_failover(client: RDSClient, rds: RdsSettings, target: str) -> FailoverPlan:
    """Check that the configured replica can take over and say exactly what will run; changes nothing.

    Raises `RestoreRefused` with the reason when it cannot: no replica configured, none of that
    name, not a replica of this instance (or not a reader of this cluster), or not available.
    """
    replica_id = configured_replica(rds, target)
    source = source_name(rds)
    if rds.cluster:
        return _plan_cluster_failover(client, rds, source, replica_id)
    return _plan_promotion(client, rds, source, replica_id)


def start_failover(client: RDSClient, plan: FailoverPlan) -> Started:
    """Ask AWS for the approved promotion or failover; safe to run again after a worker died.

    A busy replica or cluster (AWS answers "invalid state") raises `RdsUnavailable`: try later.
    """
    if plan.aurora:
        cluster = require_cluster(client, plan.source)
        writer = _writer_of(cluster)
        if writer == plan.replica:
            return Started("failover_cluster", plan.replica, resumed=True)
        if plan.replica not in _members(cluster):
            raise RestoreRefused(f"instance {plan.replica} is no longer in cluster {plan.source}; plan the failover again")
        if writer != plan.writer:
            # AWS fails an Aurora cluster over by itself when its writer fails: a second failover would move it again.
            raise RestoreRefused(
                f"the writer of cluster {plan.source} is now {writer or 'none'}, not {plan.writer} as when the failover was planned: "
                "AWS may have failed it over already; ask for a new failover if it should still go to " + plan.replica
            )
        call(client, plan.failover_call.operation, **plan.failover_call.parameters)
        return Started("failover_cluster", plan.replica, resumed=False)
    replica = describe_instance(client, plan.replica)
    if replica is None:
        raise RestoreRefused(f"read replica {plan.replica} no longer exists")
    if not _replicates_from(replica, plan.region):
        # Promoted already: by an earlier run whose journal entry was lost, or by a person.
        return Started("promote_replica", plan.replica, resumed=True)
    call(client, plan.failover_call.operation, **plan.failover_call.parameters)
    return Started("promote_replica", plan.replica, resumed=False)


def poll_failover(client: RDSClient, plan: FailoverPlan) -> FailoverStatus:
    """Where the failover is: `creating` (under way), `available` with the endpoint, or `failed`.

    One describe call for a promotion; two for Aurora (the cluster, then the new writer). The
    runner decides how long to keep polling (`deadline_passed` with `FAILOVER_TIME_LIMIT`).
    """
    if plan.aurora:
        return _poll_cluster_failover(client, plan)
    replica = describe_instance(client, plan.replica)
    if replica is None:
        return FailoverStatus(State.FAILED, "the replica no longer exists", plan.replica)
    status = status_of(replica)
    if status in _FAILED_STATUSES:
        return FailoverStatus(State.FAILED, status, plan.replica)
    source = _replicates_from(replica, plan.region)
    if source is not None or status != "available":
        still = f" (still a replica of {source})" if source is not None else ""
        return FailoverStatus(State.CREATING, f"{status}{still}", plan.replica)
    address, port = endpoint_of(replica, aurora=False)
    return FailoverStatus(State.AVAILABLE, f"{plan.replica} is a standalone instance and available", plan.replica, address, port)


def _plan_promotion(client: RDSClient, rds: RdsSettings, source: str, replica_id: str) -> FailoverPlan:
    replica = describe_instance(client, replica_id)
    if replica is None:
        raise RestoreRefused(f"there is no RDS instance named {replica_id} in {rds.region} (the target's rds.read_replica)")
    if replica.get("DBClusterIdentifier"):
        raise RestoreRefused(f"instance {replica_id} belongs to cluster {replica['DBClusterIdentifier']}, so it is not a read replica of instance {source}")
    replicates_from = _replicates_from(replica, rds.region)
    if replicates_from is None:
        raise RestoreRefused(f"instance {replica_id} is not a read replica (it replicates from no instance), so there is nothing to promote")
    if replicates_from != source:
        raise RestoreRefused(f"instance {replica_id} is a read replica of {replicates_from}, not of {source}")
    status = status_of(replica)
    if status != "available":
        raise RestoreRefused(f"read replica {replica_id} is {status}; it must be available to be promoted")

    notes = _replication_notes(replica)
    parameters: dict[str, Any] = {"DBInstanceIdentifier": replica_id}
    primary = describe_instance(client, source)
    if primary is None:
        notes.append(f"instance {source} does not answer in {rds.region}; the replica has what it received before it stopped")
    else:
        notes.append(f"instance {source} is {status_of(primary)}: writes it takes after the promotion do not reach {replica_id}")
        # A promoted replica keeps backups for a day unless told; production keeps the source's.
        if (primary.get("BackupRetentionPeriod") or 0) > 0:
            parameters["BackupRetentionPeriod"] = primary["BackupRetentionPeriod"]
            if primary.get("PreferredBackupWindow"):
                parameters["PreferredBackupWindow"] = primary["PreferredBackupWindow"]
    return FailoverPlan(rds.region, source, False, replica_id, None, ApiCall("promote_read_replica", parameters), tuple(notes))


def _plan_cluster_failover(client: RDSClient, rds: RdsSettings, source: str, replica_id: str) -> FailoverPlan:
    cluster = require_cluster(client, source)
    engine = cluster.get("Engine", "")
    if not engine.startswith("aurora"):
        raise RestoreRefused(f"cluster {source} runs {engine} (a Multi-AZ DB cluster); only Aurora clusters fail over here")
    members = _members(cluster)
    if replica_id not in members:
        listed = ", ".join(sorted(members)) or "none"
        raise RestoreRefused(f"instance {replica_id} is not an instance of cluster {source} (its instances: {listed})")
    writer = _writer_of(cluster)
    if writer == replica_id:
        raise RestoreRefused(f"instance {replica_id} is already the writer of cluster {source}: there is nothing to fail over to")
    replica = describe_instance(client, replica_id)
    status = status_of(replica) if replica is not None else "not visible"
    if status != "available":
        raise RestoreRefused(f"reader instance {replica_id} is {status}; it must be available to take over as writer")
    notes = []
    if status_of(cluster) != "available":
        notes.append(f"cluster {source} is {status_of(cluster)}; AWS fails over only an available cluster, so the job asks again until it is")
    failover_call = ApiCall("failover_db_cluster", {"DBClusterIdentifier": source, "TargetDBInstanceIdentifier": replica_id})
    return FailoverPlan(rds.region, source, True, replica_id, writer, failover_call, tuple(notes))


def _poll_cluster_failover(client: RDSClient, plan: FailoverPlan) -> FailoverStatus:
    cluster = describe_cluster(client, plan.source)
    if cluster is None:
        return FailoverStatus(State.FAILED, f"cluster {plan.source} no longer exists", plan.replica)
    cluster_status, writer = status_of(cluster), _writer_of(cluster)
    if plan.replica not in _members(cluster):
        return FailoverStatus(State.FAILED, f"instance {plan.replica} is no longer in cluster {plan.source}", plan.replica)
    if cluster_status != "available" or writer != plan.replica:
        return FailoverStatus(State.CREATING, f"cluster {cluster_status}, writer {writer or 'none'}", plan.replica)
    replica = describe_instance(client, plan.replica)
    instance_status = status_of(replica) if replica is not None else "not visible"
    if instance_status in _FAILED_STATUSES:
        return FailoverStatus(State.FAILED, f"cluster available, writer {plan.replica} {instance_status}", plan.replica)
    if instance_status != "available":
        return FailoverStatus(State.CREATING, f"cluster available, writer {plan.replica} {instance_status}", plan.replica)
    # The application connects to the cluster's endpoint, which now leads to the new writer.
    address, port = endpoint_of(cluster, aurora=True)
    return FailoverStatus(State.AVAILABLE, f"{plan.replica} is the writer of cluster {plan.source} and available", plan.replica, address, port)


def _replicates_from(instance: Mapping[str, Any], region: str) -> str | None:
    """The instance an instance replicates from: its name when it is in `region`, else its ARN.

    AWS names a source in the replica's region by name, one elsewhere by ARN (`arn:aws:rds:REGION:ACCOUNT:db:NAME`).
    """
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if not source:
        return None
    parts = str(source).split(":")
    if len(parts) == 7 and parts[0] == "arn":
        return parts[6].lower() if parts[3] == region else str(source)
    return str(source).lower()


def _replication_notes(replica: Mapping[str, Any]) -> list[str]:
    """What AWS says of the replication itself (`StatusInfos`), when it is not simply replicating."""
    notes = []
    for info in replica.get("StatusInfos") or []:
        if info.get("StatusType") == "read replication" and info.get("Status") != "replicating":
            message = f": {info['Message']}" if info.get("Message") else ""
            notes.append(f"replication to {replica['DBInstanceIdentifier']} is {info.get('Status')}{message}; it may lack the latest writes")
    return notes


def _members(cluster: Mapping[str, Any]) -> set[str]:
    return {str(member["DBInstanceIdentifier"]).lower() for member in cluster.get("DBClusterMembers", [])}


def _writer_of(cluster: Mapping[str, Any]) -> str | None:
    return next((str(m["DBInstanceIdentifier"]).lower() for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
