"""Failover jobs against moto's RDS on 127.0.0.1: a read replica promoted and an Aurora cluster failed
over, approval and rejection, refusals, and a promotion AWS does not finish (Stubber)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from service.jobs.failover import run_failover
from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit_recovery import NoReplicaConfigured, submit_failover
from service.recovery.rds.failover import FAILOVER_TIME_LIMIT
from service.store import repository
from tests.aws import CLUSTER, INSTANCE, describe_cluster, describe_instance, moto_still_a_replica, reporting_promotion, small_instance
from tests.service.jobs.test_restore import Told, make_config, resumed_run, stubbed_rds

WITH_REPLICA = replace(INSTANCE, read_replica="prod-replica")


@pytest.fixture
def client_for(rds_client_for):
    return rds_client_for


@pytest.fixture
def replica(rds_api, instance):
    rds_api.create_db_instance_read_replica(DBInstanceIdentifier="prod-replica", SourceDBInstanceIdentifier="prod")


def writer_of(rds_api, cluster):
    return [m["DBInstanceIdentifier"] for m in describe_cluster(rds_api, cluster)["DBClusterMembers"] if m["IsClusterWriter"]]


def test_a_failover_waits_for_approval_then_promotes_the_replica_and_says_where_to_point_the_application(store, target_db, rds_api, replica, client_for):
    config = make_config(target_db, WITH_REPLICA, restores_need_approval=False)  # failovers have their own switch
    job, created = submit_failover(store, config, "prod", "ops")
    assert created and (job.kind, job.params) == (JobKind.FAILOVER, {"replica": "prod-replica"})
    told = Told()

    waiting = run_job(store, config, job.id, rds_client_for=client_for, notify=told)
    assert waiting.state is JobState.WAITING_APPROVAL
    approval = waiting.facts["approval"]
    assert (approval["step"], approval["failover"]["source"], approval["failover"]["replica"]) == ("start", "prod", "prod-replica")
    assert (
        approval["plan"][-1]
        == "AWS call: promote_read_replica(DBInstanceIdentifier='prod-replica', BackupRetentionPeriod=7, PreferredBackupWindow="
        + repr(describe_instance(rds_api, "prod")["PreferredBackupWindow"])
        + ")"
    )
    assert told.kinds == ["approval_needed"] and moto_still_a_replica("prod-replica")

    repository.record_approval(store, job.id, approved=True, by="oncall", comment="prod is down")
    done = run_job(store, config, job.id, rds_client_for=reporting_promotion(client_for, "prod-replica"), notify=told)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert not moto_still_a_replica("prod-replica")
    endpoint = describe_instance(rds_api, "prod-replica")["Endpoint"]
    address = f"{endpoint['Address']}:{endpoint['Port']}"
    assert done.facts["failover"]["endpoint"] == endpoint["Address"] and done.facts["start"]["action"] == "promote_replica"
    assert done.reasons[-3:] == [
        "approved by oncall: prod is down",
        f"prod-replica is a standalone instance, available at {address}",
        f"cut-over: point the application's database URL at {address}; prod is not changed and no longer replicates to prod-replica",
    ]
    assert told.kinds == ["approval_needed", "failover_started", "failover_finished"]
    assert told[-1] == ("failover_finished", {"replica": "prod-replica", "endpoint": address})
    assert describe_instance(rds_api, "prod")["DBInstanceStatus"] == "available"  # the old primary is left as it is


def test_a_rejected_failover_promotes_nothing(store, target_db, replica, client_for):
    config = make_config(target_db, WITH_REPLICA)
    job, _ = submit_failover(store, config, "prod", "ops")
    run_job(store, config, job.id, rds_client_for=client_for)
    rejected = repository.record_approval(store, job.id, approved=False, by="oncall", comment=None, reasons=["rejected by oncall"])
    assert run_job(store, config, job.id, rds_client_for=client_for) == rejected
    assert rejected.verdict is Verdict.BLOCKED and moto_still_a_replica("prod-replica")


def test_an_aurora_failover_without_approval_when_the_policy_says_so(store, target_db, rds_api, cluster, client_for):
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    config = make_config(target_db, replace(CLUSTER, read_replica="aurora-prod-reader"), failovers_need_approval=False)
    job, _ = submit_failover(store, config, "prod", "ops")
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert writer_of(rds_api, "aurora-prod") == ["aurora-prod-reader"]
    address = f"{describe_cluster(rds_api, 'aurora-prod')['Endpoint']}:{describe_cluster(rds_api, 'aurora-prod')['Port']}"
    assert done.reasons[-2:] == [
        f"aurora-prod-reader is the writer of cluster aurora-prod; the cluster endpoint {address} now leads to it",
        f"an application that uses the cluster endpoint needs no change; point one that uses aurora-prod-writer's own endpoint at {address}",
    ]
    assert [e.step for e in repository.job_events(store, job.id) if e.kind == "step_finished" and not e.step.startswith("notify")] == [
        "plan", "start", "endpoint",
    ]  # fmt: skip


def test_a_replica_of_another_instance_is_refused_with_the_reason_in_the_journal(store, target_db, rds_api, replica, client_for):
    small_instance(rds_api, "other")
    rds_api.create_db_instance_read_replica(DBInstanceIdentifier="other-replica", SourceDBInstanceIdentifier="other")
    config = make_config(target_db, replace(INSTANCE, read_replica="other-replica"), failovers_need_approval=False)
    job, _ = submit_failover(store, config, "prod", "ops")
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert (done.verdict, done.reasons) == (Verdict.BLOCKED, ["instance other-replica is a read replica of other, not of prod"])
    ended = [e for e in repository.job_events(store, job.id) if e.kind == "transition"][-1]
    assert ended.data["reasons"] == done.reasons
    assert moto_still_a_replica("other-replica") and moto_still_a_replica("prod-replica")


@pytest.mark.parametrize(
    "rds, reason",
    [
        (
            INSTANCE,
            'target prod names no read replica to fail over to: add read_replica = "<the read replica of instance prod>" to [targets.prod.rds] in the targets file',
        ),
        (
            None,
            'target prod names no RDS instance or cluster, so it has no read replica to fail over to: add [targets.prod.rds] with region, instance (or cluster) and read_replica = "<the replica\'s identifier>" to the targets file',
        ),
    ],
)
def test_a_failover_of_a_target_without_a_replica_is_refused_before_a_job_exists(store, target_db, rds, reason):
    with pytest.raises(NoReplicaConfigured) as refused:
        submit_failover(store, make_config(target_db, rds), "prod", "ops")
    assert str(refused.value) == reason
    assert repository.list_jobs(store) == []


def test_a_promotion_is_polled_in_short_steps_and_one_aws_does_not_finish_in_time_blocks(store, target_db, replica, client_for):
    config = make_config(target_db, WITH_REPLICA, failovers_need_approval=False)
    job, _ = submit_failover(store, config, "prod", "ops")
    told = Told()
    with pytest.raises(Deferred) as deferred:
        run_job(store, config, job.id, rds_client_for=reporting_promotion(client_for, "prod-replica", ["modifying"]), notify=told)
    assert deferred.value.reason == "prod-replica is modifying (still a replica of prod)" and deferred.value.seconds <= 60
    assert repository.finished_steps(store, job.id)["poll:1"]["status"] == "modifying (still a replica of prod)"
    started = repository.step_finished_at(store, job.id, "start")

    def still_modifying(stubber):
        replica = {"DBInstanceIdentifier": "prod-replica", "DBInstanceStatus": "modifying", "ReadReplicaSourceDBInstanceIdentifier": "prod"}
        for _ in range(2):  # one poll within the limit, one past it
            stubber.add_response("describe_db_instances", {"DBInstances": [replica]}, {"DBInstanceIdentifier": "prod-replica"})

    polled = stubbed_rds(still_modifying)
    with pytest.raises(Deferred):
        run_failover(resumed_run(store, config, job.id, told), polled, now=lambda: started + FAILOVER_TIME_LIMIT)
    verdict, reasons = run_failover(resumed_run(store, config, job.id, told), polled, now=lambda: started + FAILOVER_TIME_LIMIT + timedelta(seconds=1))

    assert verdict is Verdict.BLOCKED
    assert reasons[-2:] == [
        "the failover to prod-replica did not finish: not done after 1 hour (AWS reports modifying (still a replica of prod))",
        "AWS may still finish it: look at instance prod-replica in the RDS console of us-east-1 before asking for another failover",
    ]
    assert told.kinds == ["failover_started", "failover_failed"]
    polled.stubber.assert_no_pending_responses()
