"""What the RDS tests share: a clock, tags, finished restores on moto, and plans for Stubber tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.recovery.rds.backups import list_snapshots
from service.recovery.rds.resources import ApiCall, State, job_tags
from service.recovery.rds.restore import RestorePlan, plan_restore, poll_restore, start_restore, start_restore_instance
from tests.aws import CLUSTER, INSTANCE, REGION


def now() -> datetime:
    return datetime.now(UTC)


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("TagList", [])}


def restore_instance_copy(client, job: str = "job-1", new_identifier: str = "prod-copy") -> RestorePlan:
    """A finished snapshot restore of `prod`, as a restore job leaves it."""
    snapshot = list_snapshots(client, INSTANCE)[0]
    plan = plan_restore(client, INSTANCE, snapshot_id=snapshot.id, new_identifier=new_identifier, now=now())
    start_restore(client, plan, job_tags(job, "prod"))
    assert poll_restore(client, plan).state is State.AVAILABLE
    return plan


def restore_cluster_copy(client, job: str = "job-1", new_identifier: str = "aurora-copy") -> RestorePlan:
    plan = plan_restore(client, CLUSTER, use_latest=True, new_identifier=new_identifier, now=now())
    start_restore(client, plan, job_tags(job, "aurora-prod"))
    start_restore_instance(client, plan, job_tags(job, "aurora-prod"))
    assert poll_restore(client, plan).state is State.AVAILABLE
    return plan


def api_call(operation: str, **parameters: Any) -> ApiCall:
    return ApiCall(operation, parameters)


def instance_plan() -> RestorePlan:
    return RestorePlan(
        region=REGION,
        source="prod",
        aurora=False,
        kind="snapshot",
        snapshot_id="before-release",
        restore_time=None,
        latest_restorable_time=None,
        new_identifier="prod-copy",
        new_instance_identifier=None,
        instance_class="db.t3.medium",
        instance_call=None,
        restore_call=api_call("restore_db_instance_from_db_snapshot", DBInstanceIdentifier="prod-copy", DBSnapshotIdentifier="before-release"),
    )


def aurora_plan() -> RestorePlan:
    return RestorePlan(
        region=REGION,
        source="aurora-prod",
        aurora=True,
        kind="point_in_time",
        snapshot_id=None,
        restore_time=None,
        latest_restorable_time=None,
        new_identifier="aurora-copy",
        new_instance_identifier="aurora-copy-instance-1",
        instance_class="db.r6g.large",
        restore_call=api_call(
            "restore_db_cluster_to_point_in_time",
            DBClusterIdentifier="aurora-copy",
            SourceDBClusterIdentifier="aurora-prod",
            UseLatestRestorableTime=True,
        ),
        instance_call=api_call(
            "create_db_instance",
            DBInstanceIdentifier="aurora-copy-instance-1",
            DBClusterIdentifier="aurora-copy",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        ),
    )


def instance_response(status: str, **extra: Any) -> dict[str, Any]:
    return {"DBInstances": [{"DBInstanceIdentifier": "prod-copy", "DBInstanceStatus": status, **extra}]}
