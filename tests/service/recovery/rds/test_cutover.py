"""Cut-overs on moto's server: the restored copy takes the source's name."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.recovery.rds.client import RestoreRefused
from service.recovery.rds.cutover import CutoverPlan, CutoverState, plan_cutover, poll_rename, rename_new_in, rename_old_away
from service.recovery.rds.resources import JOB_TAG
from tests.aws import describe_cluster, describe_instance
from tests.service.recovery.rds.helpers import now, restore_cluster_copy, restore_instance_copy, tags_of


def test_cutover_of_an_instance_ends_with_the_copy_under_the_old_name(client, rds_api, instance):
    restore_instance_copy(client, job="job-41", new_identifier="prod-copy")
    old_endpoint = describe_instance(rds_api, "prod")["Endpoint"]["Address"]

    plan = plan_cutover(client, instance, "prod-copy", datetime(2030, 5, 1, 9, 30, tzinfo=UTC))

    assert (plan.name, plan.old_renamed_to, plan.new_identifier, plan.new_job) == ("prod", "prod-old-203005010930", "prod-copy", "job-41")
    assert plan.rename_old_call.to_dict() == {
        "operation": "modify_db_instance",
        "parameters": {"DBInstanceIdentifier": "prod", "NewDBInstanceIdentifier": "prod-old-203005010930", "ApplyImmediately": True},
    }
    assert CutoverPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert poll_rename(client, plan).state is CutoverState.READY
    with pytest.raises(RestoreRefused, match="rename it away first"):
        rename_new_in(client, plan)

    assert rename_old_away(client, plan).resumed is False
    assert rename_old_away(client, plan).resumed is True
    assert poll_rename(client, plan).state is CutoverState.OLD_AWAY
    assert rename_new_in(client, plan).resumed is False
    assert rename_new_in(client, plan).resumed is True
    assert rename_old_away(client, plan).resumed is True
    done = poll_rename(client, plan)

    assert done.state is CutoverState.DONE
    assert done.endpoint == old_endpoint and done.port == 5432
    assert tags_of(describe_instance(rds_api, "prod"))[JOB_TAG] == "job-41"
    assert tags_of(describe_instance(rds_api, "prod-old-203005010930")) == {"team": "care"}
    names = sorted(i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"])
    assert names == ["prod", "prod-old-203005010930"]


def test_cutover_resumes_after_a_crash_between_the_rename_and_its_journal(client, rds_api, instance):
    restore_instance_copy(client, job="job-42", new_identifier="prod-copy")
    plan = plan_cutover(client, instance, "prod-copy", now())
    # A worker ran each rename's AWS call and died before journaling it.
    rds_api.modify_db_instance(**plan.rename_old_call.parameters)
    assert rename_old_away(client, plan).resumed is True
    rds_api.modify_db_instance(**plan.rename_new_call.parameters)
    assert rename_new_in(client, plan).resumed is True
    assert poll_rename(client, plan).state is CutoverState.DONE


def test_cutover_of_an_aurora_cluster_renames_the_clusters(client, rds_api, cluster):
    restore_cluster_copy(client, job="job-43", new_identifier="aurora-copy")
    old_endpoint = describe_cluster(rds_api, "aurora-prod")["Endpoint"]

    plan = plan_cutover(client, cluster, "aurora-copy", now(), old_renamed_to="aurora-prod-broken")

    assert plan.aurora and plan.rename_new_call.operation == "modify_db_cluster"
    assert plan.rename_new_call.parameters == {
        "DBClusterIdentifier": "aurora-copy", "NewDBClusterIdentifier": "aurora-prod", "ApplyImmediately": True,
    }
    rename_old_away(client, plan)
    assert poll_rename(client, plan).state is CutoverState.OLD_AWAY
    rename_new_in(client, plan)
    done = poll_rename(client, plan)

    assert done.state is CutoverState.DONE
    assert done.endpoint == describe_cluster(rds_api, "aurora-prod")["Endpoint"] != old_endpoint
    assert done.endpoint.startswith("aurora-prod.")
    assert tags_of(describe_cluster(rds_api, "aurora-prod"))[JOB_TAG] == "job-43"
    assert tags_of(describe_cluster(rds_api, "aurora-prod-broken")) == {"team": "care"}


def test_plan_cutover_refuses_what_it_cannot_do_safely(client, rds_api, instance):
    rds_api.create_db_instance(
        DBInstanceIdentifier="hand-made", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-real-password", AllocatedStorage=20,
    )
    with pytest.raises(RestoreRefused, match="was not restored from prod by deploy-gate"):
        plan_cutover(client, instance, "hand-made", now())
    with pytest.raises(RestoreRefused, match="does not exist"):
        plan_cutover(client, instance, "prod-copy", now())
    with pytest.raises(RestoreRefused, match="nothing to cut over"):
        plan_cutover(client, instance, "prod", now())
    restore_instance_copy(client, new_identifier="prod-copy")
    with pytest.raises(RestoreRefused, match="hand-made already exists"):
        plan_cutover(client, instance, "prod-copy", now(), old_renamed_to="hand-made")
    with pytest.raises(RestoreRefused, match="not valid"):
        plan_cutover(client, instance, "prod-copy", now(), old_renamed_to="prod-old-")


def test_rename_old_away_refuses_when_its_target_name_was_taken_after_planning(client, rds_api, instance):
    restore_instance_copy(client, new_identifier="prod-copy")
    plan = plan_cutover(client, instance, "prod-copy", now(), old_renamed_to="prod-old")
    rds_api.create_db_instance(
        DBInstanceIdentifier="prod-old", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-real-password", AllocatedStorage=20,
    )
    with pytest.raises(RestoreRefused, match="prod-old was taken"):
        rename_old_away(client, plan)
    assert describe_instance(rds_api, "prod")["DBInstanceIdentifier"] == "prod"
