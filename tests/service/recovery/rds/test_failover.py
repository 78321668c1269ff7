"""Failover to the target's read replica: a promotion of an instance's replica and an Aurora cluster's
failover on moto's server; Stubber for what AWS reports while it works, which moto never does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.recovery.rds.client import RdsUnavailable, RestoreRefused
from service.recovery.rds.failover import FailoverPlan, plan_failover, poll_failover, start_failover
from service.recovery.rds.resources import ApiCall, State
from tests.aws import CLUSTER, INSTANCE, REGION, describe_cluster, describe_instance, moto_still_a_replica, reporting_promotion, small_instance

WITH_REPLICA = replace(INSTANCE, read_replica="prod-replica")
WITH_READER = replace(CLUSTER, read_replica="aurora-prod-reader")


@pytest.fixture
def replica(rds_api, instance):
    rds_api.create_db_instance_read_replica(DBInstanceIdentifier="prod-replica", SourceDBInstanceIdentifier="prod")
    return WITH_REPLICA


@pytest.fixture
def reader(rds_api, cluster):
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    return WITH_READER


def promotion_plan(**overrides) -> FailoverPlan:
    plan = FailoverPlan(REGION, "prod", False, "prod-replica", None, ApiCall("promote_read_replica", {"DBInstanceIdentifier": "prod-replica"}))
    return replace(plan, **overrides)


# An instance's read replica


def test_a_promotion_is_planned_with_the_sources_backups_and_changes_nothing(client, rds_api, replica):
    plan = plan_failover(client, replica, "production")

    assert (plan.source, plan.replica, plan.aurora, plan.writer) == ("prod", "prod-replica", False, None)
    source = describe_instance(rds_api, "prod")
    assert plan.failover_call == ApiCall(
        "promote_read_replica",
        {"DBInstanceIdentifier": "prod-replica", "BackupRetentionPeriod": 7, "PreferredBackupWindow": source["PreferredBackupWindow"]},
    )
    assert plan.summary == (
        "Promote read replica prod-replica of instance prod to a standalone instance; prod is not changed, "
        "and the application must then be pointed at prod-replica's endpoint."
    )
    assert plan.notes == ("instance prod is available: writes it takes after the promotion do not reach prod-replica",)
    assert FailoverPlan.from_dict(plan.to_dict()) == plan
    assert moto_still_a_replica("prod-replica")


def test_the_promotion_starts_once_and_ends_with_the_replicas_own_endpoint(client, rds_api, replica, moto_endpoint):
    plan = plan_failover(client, replica, "production")
    made = reporting_promotion(lambda settings: client, "prod-replica", ["modifying"])
    aws = made(INSTANCE)

    started = start_failover(aws, plan)
    assert (started.action, started.identifier, started.resumed) == ("promote_replica", "prod-replica", False)
    assert not moto_still_a_replica("prod-replica")

    assert poll_failover(aws, plan).to_dict() == {
        "state": "creating", "status": "modifying (still a replica of prod)", "identifier": "prod-replica", "endpoint": None, "port": None,
    }  # fmt: skip
    done = poll_failover(aws, plan)
    endpoint = describe_instance(rds_api, "prod-replica")["Endpoint"]
    assert (done.state, done.endpoint, done.port) == (State.AVAILABLE, endpoint["Address"], endpoint["Port"])
    assert done.endpoint.startswith("prod-replica.")
    # Run again (a worker died before journaling it): AWS is not asked twice.
    assert start_failover(aws, plan).resumed is True


@pytest.mark.parametrize(
    "settings, make, reason",
    [
        (
            INSTANCE,
            None,
            'target production names no read replica to fail over to: add read_replica = "<the read replica of instance prod>" to [targets.production.rds] in the targets file',
        ),
        (replace(INSTANCE, read_replica="prod-nowhere"), None, "there is no RDS instance named prod-nowhere in us-east-1 (the target's rds.read_replica)"),
        (
            replace(INSTANCE, read_replica="other"),
            "standalone",
            "instance other is not a read replica (it replicates from no instance), so there is nothing to promote",
        ),
        (replace(INSTANCE, read_replica="other-replica"), "replica of other", "instance other-replica is a read replica of other, not of prod"),
    ],
)
def test_a_replica_that_cannot_take_over_is_refused(client, rds_api, replica, settings, make, reason):
    if make is not None:
        small_instance(rds_api, "other")
    if make == "replica of other":
        rds_api.create_db_instance_read_replica(DBInstanceIdentifier="other-replica", SourceDBInstanceIdentifier="other")
    with pytest.raises(RestoreRefused) as refused:
        plan_failover(client, settings, "production")
    assert str(refused.value) == reason
    assert moto_still_a_replica("prod-replica")


def test_a_replica_that_is_not_available_is_refused(stubbed):
    client, stubber = stubbed
    replica = {"DBInstanceIdentifier": "prod-replica", "DBInstanceStatus": "storage-full", "ReadReplicaSourceDBInstanceIdentifier": "prod"}
    stubber.add_response("describe_db_instances", {"DBInstances": [replica]}, {"DBInstanceIdentifier": "prod-replica"})
    with pytest.raises(RestoreRefused) as refused:
        plan_failover(client, WITH_REPLICA, "production")
    assert str(refused.value) == "read replica prod-replica is storage-full; it must be available to be promoted"


def test_a_replica_whose_replication_stopped_is_planned_with_a_warning_and_a_source_gone_is_said(stubbed):
    client, stubber = stubbed
    replica = {
        "DBInstanceIdentifier": "prod-replica",
        "DBInstanceStatus": "available",
        # A cross-region replica names its source by ARN.
        "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:123456789012:db:prod",
        "StatusInfos": [{"StatusType": "read replication", "Status": "error", "Normal": False, "Message": "replication stopped"}],
    }
    stubber.add_response("describe_db_instances", {"DBInstances": [replica]}, {"DBInstanceIdentifier": "prod-replica"})
    stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", "DBInstance prod not found.", 404, expected_params={"DBInstanceIdentifier": "prod"})
    plan = plan_failover(client, WITH_REPLICA, "production")
    assert plan.notes == (
        "replication to prod-replica is error: replication stopped; it may lack the latest writes",
        "instance prod does not answer in us-east-1; the replica has what it received before it stopped",
    )
    assert plan.failover_call.parameters == {"DBInstanceIdentifier": "prod-replica"}


def test_a_replica_of_an_instance_of_the_same_name_in_another_region_is_refused(stubbed):
    client, stubber = stubbed
    source = "arn:aws:rds:eu-west-1:123456789012:db:prod"
    replica = {"DBInstanceIdentifier": "prod-replica", "DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": source}
    stubber.add_response("describe_db_instances", {"DBInstances": [replica]}, {"DBInstanceIdentifier": "prod-replica"})
    with pytest.raises(RestoreRefused) as refused:
        plan_failover(client, WITH_REPLICA, "production")
    assert str(refused.value) == f"instance prod-replica is a read replica of {source}, not of prod"


@pytest.mark.parametrize(
    "described, state, status",
    [
        ({"DBInstanceStatus": "rebooting", "ReadReplicaSourceDBInstanceIdentifier": "prod"}, State.CREATING, "rebooting (still a replica of prod)"),
        ({"DBInstanceStatus": "modifying"}, State.CREATING, "modifying"),
        ({"DBInstanceStatus": "storage-full"}, State.FAILED, "storage-full"),
        (None, State.FAILED, "the replica no longer exists"),
    ],
)
def test_what_aws_reports_while_it_promotes(stubbed, described, state, status):
    client, stubber = stubbed
    expected = {"DBInstanceIdentifier": "prod-replica"}
    if described is None:
        stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", "not found", 404, expected_params=expected)
    else:
        stubber.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "prod-replica", **described}]}, expected)
    polled = poll_failover(client, promotion_plan())
    assert (polled.state, polled.status, polled.endpoint) == (state, status, None)


def test_a_replica_busy_when_asked_is_asked_again_later(stubbed):
    client, stubber = stubbed
    replica = {"DBInstanceIdentifier": "prod-replica", "DBInstanceStatus": "modifying", "ReadReplicaSourceDBInstanceIdentifier": "prod"}
    stubber.add_response("describe_db_instances", {"DBInstances": [replica]}, {"DBInstanceIdentifier": "prod-replica"})
    stubber.add_client_error("promote_read_replica", "InvalidDBInstanceState", "DB Instance is not in an available state", 400)
    with pytest.raises(RdsUnavailable):
        start_failover(client, promotion_plan())


# An Aurora cluster's reader


def test_an_aurora_failover_is_planned_to_the_named_reader(client, reader):
    plan = plan_failover(client, reader, "production")
    assert (plan.source, plan.replica, plan.writer, plan.aurora) == ("aurora-prod", "aurora-prod-reader", "aurora-prod-writer", True)
    assert plan.failover_call == ApiCall("failover_db_cluster", {"DBClusterIdentifier": "aurora-prod", "TargetDBInstanceIdentifier": "aurora-prod-reader"})
    assert plan.summary == (
        "Fail Aurora cluster aurora-prod over to its reader instance aurora-prod-reader, which becomes the writer "
        "(now aurora-prod-writer); the cluster's endpoint follows the writer."
    )
    assert plan.notes == ()


def test_an_aurora_failover_makes_the_reader_the_writer_and_reports_the_cluster_endpoint(client, rds_api, reader):
    plan = plan_failover(client, reader, "production")
    started = start_failover(client, plan)
    assert (started.action, started.identifier, started.resumed) == ("failover_cluster", "aurora-prod-reader", False)

    members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in describe_cluster(rds_api, "aurora-prod")["DBClusterMembers"]}
    assert members == {"aurora-prod-writer": False, "aurora-prod-reader": True}
    done = poll_failover(client, plan)
    cluster = describe_cluster(rds_api, "aurora-prod")
    assert (done.state, done.endpoint, done.port) == (State.AVAILABLE, cluster["Endpoint"], cluster["Port"])
    assert done.status == "aurora-prod-reader is the writer of cluster aurora-prod and available"
    assert start_failover(client, plan).resumed is True


@pytest.mark.parametrize(
    "replica, reason",
    [
        ("aurora-prod-writer", "instance aurora-prod-writer is already the writer of cluster aurora-prod: there is nothing to fail over to"),
        ("prod", "instance prod is not an instance of cluster aurora-prod (its instances: aurora-prod-reader, aurora-prod-writer)"),
    ],
)
def test_an_aurora_failover_to_an_instance_that_is_not_a_reader_of_the_cluster_is_refused(client, rds_api, reader, replica, reason):
    small_instance(rds_api, "prod")
    with pytest.raises(RestoreRefused) as refused:
        plan_failover(client, replace(CLUSTER, read_replica=replica), "production")
    assert str(refused.value) == reason
    writer = [m["DBInstanceIdentifier"] for m in describe_cluster(rds_api, "aurora-prod")["DBClusterMembers"] if m["IsClusterWriter"]]
    assert writer == ["aurora-prod-writer"]


def test_an_aurora_failover_is_not_asked_for_when_aws_has_failed_the_cluster_over_since_it_was_planned(client, rds_api, reader):
    plan = plan_failover(client, reader, "production")
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader-2", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    rds_api.failover_db_cluster(DBClusterIdentifier="aurora-prod", TargetDBInstanceIdentifier="aurora-prod-reader-2")
    with pytest.raises(RestoreRefused) as refused:
        start_failover(client, plan)
    assert str(refused.value) == (
        "the writer of cluster aurora-prod is now aurora-prod-reader-2, not aurora-prod-writer as when the failover was planned: "
        "AWS may have failed it over already; ask for a new failover if it should still go to aurora-prod-reader"
    )
    writer = [m["DBInstanceIdentifier"] for m in describe_cluster(rds_api, "aurora-prod")["DBClusterMembers"] if m["IsClusterWriter"]]
    assert writer == ["aurora-prod-reader-2"]


def test_an_aurora_failover_under_way_is_not_done_until_the_reader_writes(stubbed):
    client, stubber = stubbed
    plan = FailoverPlan(
        REGION, "aurora-prod", True, "aurora-prod-reader", "aurora-prod-writer",
        ApiCall("failover_db_cluster", {"DBClusterIdentifier": "aurora-prod", "TargetDBInstanceIdentifier": "aurora-prod-reader"}),
    )  # fmt: skip
    members = [
        {"DBInstanceIdentifier": "aurora-prod-writer", "IsClusterWriter": True},
        {"DBInstanceIdentifier": "aurora-prod-reader", "IsClusterWriter": False},
    ]
    cluster = {"DBClusterIdentifier": "aurora-prod", "Status": "failing-over", "DBClusterMembers": members}
    stubber.add_response("describe_db_clusters", {"DBClusters": [cluster]}, {"DBClusterIdentifier": "aurora-prod"})
    polled = poll_failover(client, plan)
    assert (polled.state, polled.status) == (State.CREATING, "cluster failing-over, writer aurora-prod-writer")
