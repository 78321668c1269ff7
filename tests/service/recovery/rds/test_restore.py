"""Restores of an instance or an Aurora cluster to a new resource: moto's server, and Stubber for what moto cannot do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from service.config.records import RdsSettings
from service.recovery.rds.client import RdsUnavailable, RestoreRefused
from service.recovery.rds.resources import JOB_TAG, SOURCE_TAG, State, check_identifier, deadline_passed, job_tags
from service.recovery.rds.restore import RestorePlan, default_restore_identifier, plan_restore, poll_restore, start_restore, start_restore_instance
from tests.aws import CLUSTER, INSTANCE, REGION, describe_cluster, describe_instance, small_instance
from tests.service.recovery.rds.helpers import aurora_plan, instance_plan, instance_response, now, restore_cluster_copy, restore_instance_copy, tags_of

# Restoring an instance


def test_snapshot_restore_goes_to_a_new_instance_configured_like_the_source(client, rds_api, instance, network):
    rds_api.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="before-release")
    moment = datetime(2030, 5, 1, 12, 34, tzinfo=UTC)
    source_before = describe_instance(rds_api, "prod")

    plan = plan_restore(client, instance, snapshot_id="before-release", now=moment)

    assert plan.kind == "snapshot" and plan.snapshot_id == "before-release"
    assert plan.new_identifier == "prod-restore-203005011234"
    assert plan.restore_call.operation == "restore_db_instance_from_db_snapshot"
    assert plan.restore_call.parameters == {
        "DBInstanceIdentifier": "prod-restore-203005011234",
        "DBSnapshotIdentifier": "before-release",
        "DBInstanceClass": "db.t3.medium",
        "DBSubnetGroupName": "db-private",
        "VpcSecurityGroupIds": [network["security_group"]],
        "DBParameterGroupName": "prod-pg15",
        "MultiAZ": False,
        "CopyTagsToSnapshot": False,
        "DeletionProtection": False,
        "EnableIAMDatabaseAuthentication": False,
    }
    assert "NEW instance prod-restore-203005011234" in plan.summary
    # Planning creates nothing.
    assert len(rds_api.describe_db_instances()["DBInstances"]) == 1
    # The runner journals the plan and reloads it after approval.
    assert RestorePlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan

    started = start_restore(client, plan, job_tags("job-7", "prod"))
    status = poll_restore(client, plan)

    assert started.to_dict() == {"action": "restore_instance", "identifier": "prod-restore-203005011234", "resumed": False}
    assert status.state is State.AVAILABLE and status.status == "available"
    assert status.endpoint.startswith("prod-restore-203005011234.") and status.port == 5432
    new = describe_instance(rds_api, "prod-restore-203005011234")
    assert tags_of(new) == {JOB_TAG: "job-7", SOURCE_TAG: "prod"}
    assert new["DBInstanceClass"] == "db.t3.medium"
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "db-private"
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == [network["security_group"]]
    assert new["DBParameterGroups"][0]["DBParameterGroupName"] == "prod-pg15"
    source_after = describe_instance(rds_api, "prod")
    assert source_after["Endpoint"] == source_before["Endpoint"] and tags_of(source_after) == {"team": "care"}


def test_point_in_time_restore_of_an_instance_at_a_given_time(client, rds_api, instance):
    moment = now()

    plan = plan_restore(client, instance, point_in_time=moment, new_identifier="Prod-Before-Incident", now=now())

    assert plan.kind == "point_in_time" and plan.restore_time == moment
    assert plan.new_identifier == "prod-before-incident"
    assert plan.restore_call.operation == "restore_db_instance_to_point_in_time"
    assert plan.restore_call.parameters["SourceDBInstanceIdentifier"] == "prod"
    assert plan.restore_call.parameters["TargetDBInstanceIdentifier"] == "prod-before-incident"
    assert plan.restore_call.parameters["RestoreTime"] == moment.isoformat()
    assert "UseLatestRestorableTime" not in plan.restore_call.parameters
    assert plan.restore_call.parameters["DBSubnetGroupName"] == "db-private"

    start_restore(client, plan, job_tags("job-8", "prod"))

    assert poll_restore(client, plan).state is State.AVAILABLE
    assert tags_of(describe_instance(rds_api, "prod-before-incident"))[JOB_TAG] == "job-8"


def test_point_in_time_restore_of_an_instance_to_the_latest_time(client, rds_api, instance):
    plan = plan_restore(client, instance, use_latest=True, new_identifier="prod-latest", now=now())

    assert plan.kind == "point_in_time" and plan.restore_time is None
    assert plan.latest_restorable_time is not None
    assert plan.restore_call.parameters["UseLatestRestorableTime"] is True
    assert "RestoreTime" not in plan.restore_call.parameters
    assert "latest restorable time" in plan.summary

    start_restore(client, plan, job_tags("job-9", "prod"))

    assert poll_restore(client, plan).state is State.AVAILABLE


# Restoring an Aurora cluster


def test_snapshot_restore_of_an_aurora_cluster_then_its_writer(client, rds_api, cluster, network):
    rds_api.create_db_cluster_snapshot(DBClusterIdentifier="aurora-prod", DBClusterSnapshotIdentifier="aurora-before")

    plan = plan_restore(client, cluster, snapshot_id="aurora-before", new_identifier="aurora-copy", now=now())

    assert plan.aurora and plan.kind == "snapshot"
    assert plan.new_identifier == "aurora-copy"
    assert plan.new_instance_identifier == "aurora-copy-instance-1"
    assert plan.instance_class == "db.r6g.large"
    assert plan.restore_call.operation == "restore_db_cluster_from_snapshot"
    assert plan.restore_call.parameters["SnapshotIdentifier"] == "aurora-before"
    assert plan.restore_call.parameters["Engine"] == "aurora-postgresql"
    assert plan.restore_call.parameters["DBClusterParameterGroupName"] == "aurora-cluster-pg"
    assert plan.restore_call.parameters["DBSubnetGroupName"] == "db-private"
    assert plan.instance_call.to_dict() == {
        "operation": "create_db_instance",
        "parameters": {
            "DBInstanceIdentifier": "aurora-copy-instance-1",
            "DBClusterIdentifier": "aurora-copy",
            "Engine": "aurora-postgresql",
            "DBInstanceClass": "db.r6g.large",
            "DBParameterGroupName": "aurora-instance-pg",
            "PubliclyAccessible": False,
        },
    }
    assert RestorePlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan

    tags = job_tags("job-11", "aurora-prod")
    assert start_restore(client, plan, tags).action == "restore_cluster"
    assert start_restore_instance(client, plan, tags).identifier == "aurora-copy-instance-1"
    status = poll_restore(client, plan)

    assert status.state is State.AVAILABLE
    new_cluster = describe_cluster(rds_api, "aurora-copy")
    assert status.endpoint == new_cluster["Endpoint"] and status.port == new_cluster["Port"]
    assert tags_of(new_cluster) == tags
    assert new_cluster["DBClusterParameterGroup"] == "aurora-cluster-pg"
    assert [g["VpcSecurityGroupId"] for g in new_cluster["VpcSecurityGroups"]] == [network["security_group"]]
    writer = describe_instance(rds_api, "aurora-copy-instance-1")
    assert writer["DBClusterIdentifier"] == "aurora-copy" and writer["DBInstanceClass"] == "db.r6g.large"
    assert tags_of(writer) == tags
    assert describe_cluster(rds_api, "aurora-prod")["DBClusterMembers"][0]["DBInstanceIdentifier"] == "aurora-prod-writer"


def test_point_in_time_restore_of_an_aurora_cluster(client, rds_api, cluster):
    moment = now()
    at_time = plan_restore(client, cluster, point_in_time=moment, new_identifier="aurora-at-time", now=now())
    latest = plan_restore(client, cluster, use_latest=True, new_identifier="aurora-latest", now=now())

    assert at_time.restore_call.operation == "restore_db_cluster_to_point_in_time"
    assert at_time.restore_call.parameters["RestoreToTime"] == moment.isoformat()
    assert at_time.restore_call.parameters["RestoreType"] == "full-copy"
    assert latest.restore_call.parameters["UseLatestRestorableTime"] is True

    for plan in (at_time, latest):
        start_restore(client, plan, job_tags("job-12", "aurora-prod"))
        start_restore_instance(client, plan, job_tags("job-12", "aurora-prod"))
        assert poll_restore(client, plan).state is State.AVAILABLE
        assert describe_cluster(rds_api, plan.new_identifier)["DBClusterMembers"][0]["IsClusterWriter"] is True


def test_the_default_identifiers_fit_rds_limits():
    long_source = "a" * 60
    moment = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    derived = default_restore_identifier(long_source, moment)
    assert len(derived) == 63 and derived.endswith("-restore-203001020304")
    assert check_identifier(derived) == derived
    assert default_restore_identifier("ab-" + "c" * 40 + "-d" * 5, moment).count("--") == 0


# Refusals, before anything starts


def test_an_unknown_snapshot_is_refused(client, instance):
    with pytest.raises(RestoreRefused, match="no snapshot named nope"):
        plan_restore(client, instance, snapshot_id="nope", now=now())


def test_a_snapshot_of_another_instance_is_refused(client, rds_api, instance):
    small_instance(rds_api, "staging")
    rds_api.create_db_snapshot(DBInstanceIdentifier="staging", DBSnapshotIdentifier="staging-snap")
    with pytest.raises(RestoreRefused, match="is of instance staging, not of prod"):
        plan_restore(client, instance, snapshot_id="staging-snap", now=now())


def test_a_snapshot_of_another_cluster_is_refused(client, rds_api, cluster):
    rds_api.create_db_cluster(
        DBClusterIdentifier="aurora-staging",
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )
    rds_api.create_db_cluster_snapshot(DBClusterIdentifier="aurora-staging", DBClusterSnapshotIdentifier="staging-snap")
    with pytest.raises(RestoreRefused, match="is of cluster aurora-staging, not of aurora-prod"):
        plan_restore(client, cluster, snapshot_id="staging-snap", now=now())


@pytest.mark.parametrize("settings", [INSTANCE, CLUSTER], ids=["instance", "cluster"])
def test_a_time_outside_the_restorable_window_is_refused(client, instance, cluster, settings):
    with pytest.raises(RestoreRefused, match="outside the restorable window"):
        plan_restore(client, settings, point_in_time=now() - timedelta(days=1), now=now())
    with pytest.raises(RestoreRefused, match="in the future"):
        plan_restore(client, settings, point_in_time=now() + timedelta(hours=1), now=now())
    with pytest.raises(RestoreRefused, match="time zone"):
        plan_restore(client, settings, point_in_time=datetime(2030, 1, 1, 12, 0), now=now())


@pytest.mark.parametrize(
    "identifier",
    ["1prod", "prod--copy", "prod-copy-", "prod_copy", "prod.copy", "a" * 64, "-prod"],
)
def test_an_invalid_new_identifier_is_refused(client, instance, identifier):
    with pytest.raises(RestoreRefused, match="identifier"):
        plan_restore(client, instance, use_latest=True, new_identifier=identifier, now=now())


def test_a_taken_identifier_or_the_source_itself_is_refused(client, rds_api, instance, cluster):
    restore_instance_copy(client, new_identifier="prod-copy")
    with pytest.raises(RestoreRefused, match="an instance named prod-copy already exists"):
        plan_restore(client, instance, use_latest=True, new_identifier="prod-copy", now=now())
    with pytest.raises(RestoreRefused, match="must differ from the source"):
        plan_restore(client, instance, use_latest=True, new_identifier="PROD", now=now())
    with pytest.raises(RestoreRefused, match="must differ from the source"):
        plan_restore(client, cluster, use_latest=True, new_identifier="aurora-prod", now=now())
    restore_cluster_copy(client, new_identifier="aurora-copy")
    with pytest.raises(RestoreRefused, match="a cluster named aurora-copy already exists"):
        plan_restore(client, cluster, use_latest=True, new_identifier="aurora-copy", now=now())


def test_an_aurora_restore_refuses_a_taken_instance_name(client, rds_api, cluster):
    small_instance(rds_api, "aurora-copy-instance-1")
    with pytest.raises(RestoreRefused, match="aurora-copy-instance-1 already exists"):
        plan_restore(client, cluster, use_latest=True, new_identifier="aurora-copy", now=now())


def test_exactly_one_kind_of_restore_must_be_asked_for(client, instance):
    with pytest.raises(RestoreRefused, match="exactly one"):
        plan_restore(client, instance, now=now())
    with pytest.raises(RestoreRefused, match="exactly one"):
        plan_restore(client, instance, snapshot_id="x", use_latest=True, now=now())


def test_an_unknown_source_or_an_aurora_member_configured_as_an_instance_is_refused(client, cluster):
    with pytest.raises(RestoreRefused, match="no RDS instance named prod"):
        plan_restore(client, INSTANCE, use_latest=True, now=now())
    with pytest.raises(RestoreRefused, match="belongs to Aurora cluster aurora-prod"):
        plan_restore(client, RdsSettings(REGION, instance="aurora-prod-writer"), use_latest=True, now=now())
    with pytest.raises(RestoreRefused, match="no RDS cluster named aurora-gone"):
        plan_restore(client, RdsSettings(REGION, cluster="aurora-gone"), use_latest=True, now=now())


# Re-runs after a worker died between the AWS call and its journal entry


def test_start_restore_after_a_crash_recognises_its_own_instance(client, rds_api, instance):
    plan = plan_restore(client, instance, use_latest=True, new_identifier="prod-copy", now=now())
    tags = job_tags("job-21", "prod")
    first = start_restore(client, plan, tags)
    # The worker died here; the job's next run starts the same step again.
    again = start_restore(client, plan, tags)

    assert (first.resumed, again.resumed) == (False, True)
    names = [i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"]]
    assert sorted(names) == ["prod", "prod-copy"]


def test_start_restore_refuses_an_instance_it_did_not_make(client, rds_api, instance):
    plan = plan_restore(client, instance, use_latest=True, new_identifier="prod-copy", now=now())
    # Someone else takes the name between approval and start.
    small_instance(rds_api, "prod-copy")
    with pytest.raises(RestoreRefused, match="made by someone else"):
        start_restore(client, plan, job_tags("job-22", "prod"))

    other = plan_restore(client, instance, use_latest=True, new_identifier="prod-copy-2", now=now())
    start_restore(client, other, job_tags("job-23", "prod"))
    with pytest.raises(RestoreRefused, match="made by job job-23"):
        start_restore(client, other, job_tags("job-24", "prod"))
    with pytest.raises(ValueError, match=JOB_TAG):
        start_restore(client, other, {"team": "care"})


def test_aurora_steps_after_a_crash_recognise_their_cluster_and_writer(client, rds_api, cluster):
    plan = plan_restore(client, cluster, use_latest=True, new_identifier="aurora-copy", now=now())
    tags = job_tags("job-25", "aurora-prod")

    with pytest.raises(RestoreRefused, match="start the restore first"):
        start_restore_instance(client, plan, tags)
    assert start_restore(client, plan, tags).resumed is False
    assert start_restore(client, plan, tags).resumed is True
    assert start_restore_instance(client, plan, tags).resumed is False
    assert start_restore_instance(client, plan, tags).resumed is True

    members = describe_cluster(rds_api, "aurora-copy")["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members] == ["aurora-copy-instance-1"]


@pytest.mark.parametrize(
    "status",
    ["failed", "incompatible-restore", "incompatible-parameters", "storage-full", "inaccessible-encryption-credentials"],
)
def test_a_restore_that_ends_badly_is_failed_with_the_aws_status(stubbed, status):
    client, stubber = stubbed
    stubber.add_response("describe_db_instances", instance_response(status), {"DBInstanceIdentifier": "prod-copy"})

    result = poll_restore(client, instance_plan())

    assert result.state is State.FAILED and result.state.final
    assert result.status == status
    assert result.endpoint is None
    assert result.to_dict()["state"] == "failed"


def test_a_restore_that_never_becomes_available_is_stopped_by_the_runners_deadline(stubbed):
    client, stubber = stubbed
    started_at = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    for _ in range(3):
        stubber.add_response("describe_db_instances", instance_response("creating"))

    states = [poll_restore(client, instance_plan()).state for _ in range(3)]

    assert states == [State.CREATING] * 3 and not State.CREATING.final
    limit = timedelta(hours=2)
    assert not deadline_passed(started_at, started_at + limit - timedelta(seconds=1), limit)
    assert not deadline_passed(started_at, started_at + limit, limit)
    assert deadline_passed(started_at, started_at + limit + timedelta(seconds=1), limit)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_passed(datetime(2030, 1, 1), started_at, limit)


def test_an_available_restore_reports_its_endpoint(stubbed):
    client, stubber = stubbed
    endpoint = {"Address": "prod-copy.abc.us-east-1.rds.amazonaws.com", "Port": 5432}
    stubber.add_response("describe_db_instances", instance_response("available", Endpoint=endpoint))

    result = poll_restore(client, instance_plan())

    assert (result.state, result.endpoint, result.port) == (State.AVAILABLE, endpoint["Address"], 5432)


def test_an_aurora_restore_waits_for_the_cluster_then_the_writer(stubbed):
    client, stubber = stubbed
    cluster = {"DBClusterIdentifier": "aurora-copy", "Endpoint": "aurora-copy.cluster-x.rds.amazonaws.com", "Port": 5432}
    stubber.add_response("describe_db_clusters", {"DBClusters": [{**cluster, "Status": "creating"}]})
    stubber.add_response("describe_db_clusters", {"DBClusters": [{**cluster, "Status": "available"}]})
    stubber.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "aurora-copy-instance-1", "DBInstanceStatus": "creating"}]})
    stubber.add_response("describe_db_clusters", {"DBClusters": [{**cluster, "Status": "inaccessible-encryption-credentials"}]})

    first, second, third = (poll_restore(client, aurora_plan()) for _ in range(3))

    assert (first.state, first.status) == (State.CREATING, "cluster creating")
    assert (second.state, second.status, second.endpoint) == (State.CREATING, "cluster available, instance creating", None)
    assert (third.state, third.status) == (State.FAILED, "cluster inaccessible-encryption-credentials")


def test_throttling_while_starting_is_unavailable_and_can_be_run_again(stubbed):
    client, stubber = stubbed
    plan = instance_plan()
    tags = job_tags("job-51", "prod")
    not_found = ("DBInstanceNotFound", "DBInstance prod-copy not found.", 404)
    expected = {**plan.restore_call.parameters, "Tags": [{"Key": JOB_TAG, "Value": "job-51"}, {"Key": SOURCE_TAG, "Value": "prod"}]}
    stubber.add_client_error("describe_db_instances", *not_found)
    stubber.add_client_error("restore_db_instance_from_db_snapshot", "ThrottlingException", "Rate exceeded", 400, expected_params=expected)
    stubber.add_client_error("describe_db_instances", *not_found)
    stubber.add_response("restore_db_instance_from_db_snapshot", {"DBInstance": {"DBInstanceIdentifier": "prod-copy"}}, expected)

    with pytest.raises(RdsUnavailable, match="Rate exceeded"):
        start_restore(client, plan, tags)
    assert start_restore(client, plan, tags).resumed is False


def test_a_snapshot_that_is_not_available_cannot_be_restored(stubbed):
    client, stubber = stubbed
    source = {"DBInstanceIdentifier": "prod", "DBInstanceClass": "db.t3.medium", "DBInstanceStatus": "available"}
    stubber.add_response("describe_db_instances", {"DBInstances": [source]})
    half_done = {"DBSnapshotIdentifier": "half-done", "DBInstanceIdentifier": "prod", "Status": "creating"}
    stubber.add_response("describe_db_snapshots", {"DBSnapshots": [half_done]})

    with pytest.raises(RestoreRefused, match="half-done is creating, not available"):
        plan_restore(client, INSTANCE, snapshot_id="half-done", now=now())


def test_a_snapshot_of_an_older_major_version_gets_default_parameter_groups_instance_and_cluster_alike(stubbed):
    client, stubber = stubbed
    not_found = ("DBInstanceNotFound", "not found", 404)
    stubber.add_response(
        "describe_db_instances",
        {
            "DBInstances": [
                {
                    "DBInstanceIdentifier": "prod",
                    "DBInstanceClass": "db.t3.medium",
                    "Engine": "postgres",
                    "EngineVersion": "15.4",
                    "DBParameterGroups": [{"DBParameterGroupName": "prod-pg15"}],
                    "OptionGroupMemberships": [{"OptionGroupName": "prod-options"}],
                }
            ]
        },
    )
    stubber.add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {"DBSnapshotIdentifier": "last-year", "DBInstanceIdentifier": "prod", "Status": "available", "Engine": "postgres", "EngineVersion": "14.9"},
            ]
        },
    )
    stubber.add_client_error("describe_db_instances", *not_found)
    stubber.add_response(
        "describe_db_clusters",
        {
            "DBClusters": [
                {
                    "DBClusterIdentifier": "aurora-prod",
                    "Engine": "aurora-postgresql",
                    "EngineVersion": "15.4",
                    "DBClusterParameterGroup": "aurora-cluster-pg",
                    "DBClusterMembers": [{"DBInstanceIdentifier": "aurora-prod-writer", "IsClusterWriter": True}],
                }
            ]
        },
    )
    writer = {"DBInstanceIdentifier": "aurora-prod-writer", "DBInstanceClass": "db.r6g.large", "DBParameterGroups": [{"DBParameterGroupName": "aurora-pg"}]}
    stubber.add_response("describe_db_instances", {"DBInstances": [writer]})
    stubber.add_response(
        "describe_db_cluster_snapshots",
        {
            "DBClusterSnapshots": [
                {
                    "DBClusterSnapshotIdentifier": "aurora-last-year",
                    "DBClusterIdentifier": "aurora-prod",
                    "Status": "available",
                    "Engine": "aurora-postgresql",
                    "EngineVersion": "14.9",
                }
            ]
        },
    )
    stubber.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "not found", 404)
    stubber.add_client_error("describe_db_instances", *not_found)

    instance = plan_restore(client, INSTANCE, snapshot_id="last-year", new_identifier="prod-copy", now=now())
    aurora = plan_restore(client, CLUSTER, snapshot_id="aurora-last-year", new_identifier="aurora-copy", now=now())

    assert instance.restore_call.parameters == {"DBInstanceIdentifier": "prod-copy", "DBSnapshotIdentifier": "last-year", "DBInstanceClass": "db.t3.medium"}
    assert instance.notes == ("snapshot last-year holds postgres 14.9, the source now runs 15.4: the new instance gets the default parameter group",)
    assert aurora.restore_call.parameters == {"DBClusterIdentifier": "aurora-copy", "SnapshotIdentifier": "aurora-last-year", "Engine": "aurora-postgresql"}
    assert "DBParameterGroupName" not in aurora.instance_call.parameters
    assert aurora.notes == (
        "snapshot aurora-last-year holds aurora-postgresql 14.9, the source now runs 15.4: the new cluster and instance get default parameter groups",
    )
