"""Cut-overs on moto's server: the restored copy takes the source's name."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.recovery.rds.client import RestoreRefused
from service.recovery.rds.cutover import (
    CutoverPlan,
    CutoverState,
    StuckRename,
    plan_cutover,
    poll_rename,
    rename_new_in,
    rename_old_away,
    stuck_rename,
)
from service.recovery.rds.resources import JOB_TAG, ApiCall
from tests.aws import REGION, describe_cluster, describe_instance, small_instance
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
        "DBClusterIdentifier": "aurora-copy",
        "NewDBClusterIdentifier": "aurora-prod",
        "ApplyImmediately": True,
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
    small_instance(rds_api, "hand-made")
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
    small_instance(rds_api, "prod-old")
    with pytest.raises(RestoreRefused, match="prod-old was taken"):
        rename_old_away(client, plan)
    assert describe_instance(rds_api, "prod")["DBInstanceIdentifier"] == "prod"


# A rename AWS does not finish: the runner stops polling after RENAME_TIME_LIMIT and journals stuck_rename


def instance_cutover_plan() -> CutoverPlan:
    return CutoverPlan(
        region=REGION,
        aurora=False,
        name="prod",
        old_renamed_to="prod-old",
        new_identifier="prod-copy",
        new_job="job-45",
        rename_old_call=ApiCall("modify_db_instance", {"DBInstanceIdentifier": "prod", "NewDBInstanceIdentifier": "prod-old", "ApplyImmediately": True}),
        rename_new_call=ApiCall("modify_db_instance", {"DBInstanceIdentifier": "prod-copy", "NewDBInstanceIdentifier": "prod", "ApplyImmediately": True}),
    )


def described(stubber, identifier: str, status: str | None, job: str | None = None) -> None:
    """The next DescribeDBInstances of `identifier`: `status`, or not found when None."""
    expected = {"DBInstanceIdentifier": identifier}
    if status is None:
        stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", f"DBInstance {identifier} not found.", 404, expected_params=expected)
        return
    tags = [{"Key": JOB_TAG, "Value": job}] if job else [{"Key": "team", "Value": "care"}]
    response = {"DBInstances": [{"DBInstanceIdentifier": identifier, "DBInstanceStatus": status, "TagList": tags}]}
    stubber.add_response("describe_db_instances", response, expected)


def test_an_old_instance_renaming_for_ever_is_reported_with_the_commands_that_finish_the_cutover(stubbed):
    client, stubber = stubbed
    plan = instance_cutover_plan()
    for _ in range(3):
        described(stubber, "prod", "renaming")
    described(stubber, "prod", "renaming")
    described(stubber, "prod-old", None)
    described(stubber, "prod-copy", "available", job="job-45")

    polls = [poll_rename(client, plan) for _ in range(3)]
    stuck = stuck_rename(client, plan)

    assert {(p.state, p.status) for p in polls} == {(CutoverState.RENAMING_OLD, "prod (the old resource) is renaming")}
    assert [holder.line for holder in stuck.names] == [
        "prod holds the old instance (renaming)",
        "prod-old holds nothing",
        "prod-copy holds the restored copy (available)",
    ]
    assert stuck.advice[0] == "prod still names the old instance; prod-copy is untouched."
    away = "aws rds modify-db-instance --region us-east-1 --db-instance-identifier prod --new-db-instance-identifier prod-old --apply-immediately"
    copy_in = "aws rds modify-db-instance --region us-east-1 --db-instance-identifier prod-copy --new-db-instance-identifier prod --apply-immediately"
    assert f"`{away}`" in stuck.advice[1] and f"`{copy_in}`" in stuck.advice[1]
    assert stuck.advice[-1] == "deploy-gate renames nothing more in this cut-over."
    assert stuck.lines == [*(holder.line for holder in stuck.names), *stuck.advice]
    assert StuckRename.from_dict(json.loads(json.dumps(stuck.to_dict()))) == stuck


def test_a_copy_renaming_for_ever_leaves_the_name_free_and_the_way_back_is_reported(stubbed):
    client, stubber = stubbed
    plan = instance_cutover_plan()
    for name, status in (("prod", None), ("prod-old", "available"), ("prod-copy", None)):
        described(stubber, name, status)
    for name, status in (("prod", None), ("prod-old", "available"), ("prod-copy", None)):
        described(stubber, name, status)

    poll = poll_rename(client, plan)
    stuck = stuck_rename(client, plan)

    assert (poll.state, poll.status) == (CutoverState.RENAMING_NEW, "prod-copy is moving to prod")
    assert [holder.line for holder in stuck.names] == ["prod holds nothing", "prod-old holds the old instance (available)", "prod-copy holds nothing"]
    assert stuck.advice[0] == "No instance answers under prod: the application cannot reach its database until one takes that name."
    assert stuck.advice[1].startswith("prod-copy is not visible: AWS may still be renaming it to prod")
    back = "aws rds modify-db-instance --region us-east-1 --db-instance-identifier prod-old --new-db-instance-identifier prod --apply-immediately"
    assert stuck.advice[2].endswith(f"`{back}`.")


def test_a_stuck_aurora_cutover_names_the_cluster_commands(client, rds_api, cluster):
    restore_cluster_copy(client, job="job-46", new_identifier="aurora-copy")
    plan = plan_cutover(client, cluster, "aurora-copy", now(), old_renamed_to="aurora-prod-broken")
    rename_old_away(client, plan)

    stuck = stuck_rename(client, plan)

    assert [holder.line for holder in stuck.names] == [
        "aurora-prod holds nothing",
        "aurora-prod-broken holds the old cluster (available)",
        "aurora-copy holds the restored copy (available)",
    ]
    finish = "aws rds modify-db-cluster --region us-east-1 --db-cluster-identifier aurora-copy --new-db-cluster-identifier aurora-prod --apply-immediately"
    back = "aws rds modify-db-cluster --region us-east-1 --db-cluster-identifier aurora-prod-broken --new-db-cluster-identifier aurora-prod --apply-immediately"
    assert f"`{finish}`" in stuck.advice[1] and f"`{back}`" in stuck.advice[2]
    # Reporting renames nothing.
    assert {c["DBClusterIdentifier"] for c in rds_api.describe_db_clusters()["DBClusters"]} == {"aurora-prod-broken", "aurora-copy"}
