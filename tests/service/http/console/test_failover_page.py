"""A failover job's console page, on moto: the plan to approve, the AWS steps in words, the endpoint,
and the cut-over the application needs (a promotion) or not (an Aurora failover)."""

import re
from dataclasses import replace

import pytest

from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobState, Verdict
from service.jobs.submit_recovery import submit_failover
from service.store import repository
from tests.aws import CLUSTER, INSTANCE, describe_cluster, describe_instance, reporting_promotion
from tests.service.http.console.conftest import post_form, sign_in
from tests.service.http.console.test_views import aws_steps, no_secret, page, restore_section


def with_replica(config, rds):
    config.targets["staging"] = replace(config.targets["staging"], rds=rds)
    return config


def next_step(html):
    found = re.search(r'<div id="next-step">(.*?)</div>', restore_section(html), re.S)
    return found.group(1) if found else None


def test_a_promotions_page_from_approval_through_the_aws_steps_to_the_endpoint_and_the_cut_over(
    client, store, config, rds_api, instance, rds_client_for, enqueued
):
    rds_api.create_db_instance_read_replica(DBInstanceIdentifier="prod-replica", SourceDBInstanceIdentifier="prod")
    config = with_replica(config, replace(INSTANCE, read_replica="prod-replica"))
    job, _ = submit_failover(store, config, "staging", "ops")
    assert run_job(store, config, job.id, rds_client_for=rds_client_for).state is JobState.WAITING_APPROVAL
    sign_in(client, "oncall-token")
    path = f"/console/jobs/{job.id}"

    html = page(client, path)
    assert "<h1>Failover job on staging</h1>" in html and no_secret(html)
    plan = re.search(r'<section id="plan">(.*?)</section>', html, re.S).group(1)
    assert "<li>AWS call: promote_read_replica(DBInstanceIdentifier=&#39;prod-replica&#39;, BackupRetentionPeriod=7" in plan and 'id="approve-form"' in plan
    failover = restore_section(html)
    assert "<h2>Failover</h2>" in failover
    assert '<span id="endpoint-pending">none yet: the failover starts once it is approved</span>' in failover
    assert "Approving promotes prod-replica to a standalone\n      instance: it stops replicating from prod for good." in failover
    assert aws_steps(html) == [] and next_step(html) is None

    assert post_form(client, f"{path}/approve", path, comment="prod is down").status_code == 303 and enqueued[-1] == job.id
    with pytest.raises(Deferred):
        run_job(store, config, job.id, rds_client_for=reporting_promotion(rds_client_for, "prod-replica", ["modifying"]))
    html = page(client, path)
    assert aws_steps(html) == [
        "AWS is promoting the read replica prod-replica to a standalone instance",
        "asked AWS: prod-replica is modifying (still a replica of prod), not available yet; asking again later",
    ]
    assert "none yet: AWS is failing over to prod-replica; the endpoint shows here when it is done" in restore_section(html)

    done = run_job(store, config, job.id, rds_client_for=reporting_promotion(rds_client_for, "prod-replica", asked=True))
    assert done.verdict is Verdict.PROCEED, done.reasons
    described = describe_instance(rds_api, "prod-replica")["Endpoint"]
    address = f"{described['Address']}:{described['Port']}"
    html = page(client, path)
    failover = restore_section(html)
    assert "<p>prod-replica answers at</p>" in failover and f'<code id="endpoint">{address}</code>' in failover and no_secret(html)
    assert aws_steps(html)[-1] == f"prod-replica is a standalone instance and available; the application connects to {address}"
    assert "<h3>Next step: cut over</h3>" in next_step(html) and "Point its database URL at the endpoint above" in next_step(html)
    assert 'id="cutover-form"' not in html  # a restore's rename cut-over is not offered: the promoted replica keeps its name
    assert f'<code id="endpoint">{address}</code>' in page(client, f"{path}?fragment=live")


def test_an_aurora_failovers_page_shows_the_cluster_endpoint_that_follows_the_new_writer(client, store, config, rds_api, cluster, rds_client_for):
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    config = with_replica(config, replace(CLUSTER, read_replica="aurora-prod-reader"))
    job, _ = submit_failover(store, config, "staging", "ops")
    assert run_job(store, config, job.id, rds_client_for=rds_client_for).state is JobState.WAITING_APPROVAL
    sign_in(client, "oncall-token")
    path = f"/console/jobs/{job.id}"
    assert "Approving makes aurora-prod-reader the writer of cluster aurora-prod" in restore_section(page(client, path))

    repository.record_approval(store, job.id, approved=True, by="oncall", comment=None)
    assert run_job(store, config, job.id, rds_client_for=rds_client_for).verdict is Verdict.PROCEED
    described = describe_cluster(rds_api, "aurora-prod")
    html = page(client, path)
    failover = restore_section(html)
    assert "<p>Cluster aurora-prod, whose writer is now aurora-prod-reader, answers at</p>" in failover
    assert f'<code id="endpoint">{described["Endpoint"]}:{described["Port"]}</code>' in failover
    assert "<h3>Next step: check the application</h3>" in next_step(html) and "needs no change" in next_step(html)
