"""Listing the backups a restore can start from, on moto's server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from service.recovery.rds.backups import list_snapshots, restorable_window
from service.recovery.rds.client import RestoreRefused
from service.recovery.rds.restore import plan_restore
from tests.aws import INSTANCE, describe_cluster, describe_instance, small_instance
from tests.service.recovery.rds.helpers import now


def test_list_snapshots_of_an_instance_newest_first(client, rds_api, instance, network):
    rds_api.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="before-release-1")
    rds_api.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="before-release-2")
    small_instance(rds_api, "staging", BackupRetentionPeriod=1)
    rds_api.create_db_snapshot(DBInstanceIdentifier="staging", DBSnapshotIdentifier="staging-snap")

    snapshots = list_snapshots(client, instance)

    assert [s.id for s in snapshots][:2] == ["before-release-2", "before-release-1"]
    assert {s.type for s in snapshots} == {"manual", "automated"}
    assert all(s.source == "prod" and s.status == "available" for s in snapshots)
    assert "staging-snap" not in {s.id for s in snapshots}
    times = [s.created_at for s in snapshots]
    assert times == sorted(times, reverse=True)
    assert all(t.tzinfo is not None for t in times)
    document = json.loads(json.dumps([s.to_dict() for s in snapshots]))
    assert document[0]["id"] == "before-release-2" and document[0]["type"] == "manual"


def test_list_snapshots_of_an_aurora_cluster(client, rds_api, cluster):
    rds_api.create_db_cluster_snapshot(DBClusterIdentifier="aurora-prod", DBClusterSnapshotIdentifier="aurora-before-release")

    snapshots = list_snapshots(client, cluster)

    assert snapshots[0].id == "aurora-before-release"
    assert snapshots[0].type == "manual"
    assert {s.type for s in snapshots[1:]} == {"automated"}
    assert all(s.source == "aurora-prod" for s in snapshots)


def test_restorable_window_of_an_instance_and_a_cluster(client, rds_api, instance, cluster):
    created = describe_instance(rds_api, "prod")["InstanceCreateTime"]
    window = restorable_window(client, instance)
    assert window is not None
    assert window.earliest >= created - timedelta(seconds=1)
    assert window.earliest <= window.latest <= now() + timedelta(seconds=1)
    assert window.contains(window.latest) and not window.contains(window.earliest - timedelta(seconds=1))

    cluster_window = restorable_window(client, cluster)
    assert cluster_window is not None
    assert cluster_window.earliest == describe_cluster(rds_api, "aurora-prod")["EarliestRestorableTime"]
    assert set(cluster_window.to_dict()) == {"earliest", "latest"}


def test_an_instance_without_automated_backups_has_no_window_and_no_point_in_time_restore(client, rds_api, network):
    small_instance(rds_api, "prod", BackupRetentionPeriod=0)
    assert restorable_window(client, INSTANCE) is None
    with pytest.raises(RestoreRefused, match="no automated backups"):
        plan_restore(client, INSTANCE, use_latest=True, now=now())
