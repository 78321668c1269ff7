"""Failover reports from real failover jobs on moto: a promoted read replica and an Aurora failover,
and a failover refused before anything was asked of AWS."""

from __future__ import annotations

from dataclasses import replace

from service.jobs.runner import run_job
from service.jobs.states import Verdict
from service.jobs.submit_recovery import submit_failover
from service.store import repository
from tests.aws import CLUSTER, INSTANCE, describe_cluster, describe_instance, reporting_promotion, small_instance
from tests.service.jobs.test_restore import make_config
from tests.service.reports.test_build import checklist, finished_at, line_starting, markdown_lines, report_of, store  # noqa: F401 (a fixture)

NOT_APPLICABLE = ("migration_identified", "sql_reviewed", "rollback_tested", "backup_accessible", "rollback_executed", "history_updated")


def test_a_promotion_approved_and_done_is_reported_with_the_endpoint_to_cut_over_to(store, target_db, rds_api, instance, rds_client_for):
    rds_api.create_db_instance_read_replica(DBInstanceIdentifier="prod-replica", SourceDBInstanceIdentifier="prod")
    config = make_config(target_db, replace(INSTANCE, read_replica="prod-replica"))
    job, _ = submit_failover(store, config, "prod", "ops")
    run_job(store, config, job.id, rds_client_for=rds_client_for)
    repository.record_approval(store, job.id, approved=True, by="oncall", comment="prod is failing")
    assert run_job(store, config, job.id, rds_client_for=reporting_promotion(rds_client_for, "prod-replica")).verdict is Verdict.PROCEED
    endpoint = describe_instance(rds_api, "prod-replica")["Endpoint"]
    address = f"{endpoint['Address']}:{endpoint['Port']}"

    report = report_of(store, job.id)
    items = checklist(report)
    assert report.title == "Incident report: failover of prod to prod-replica"
    assert report.migration is None and report.failure is None
    assert (report.restore.action, report.restore.source, report.restore.new_identifier, report.restore.endpoint) == (
        "failover",
        "prod",
        "prod-replica",
        address,
    )
    for not_applicable in NOT_APPLICABLE:
        assert items[not_applicable][0] is None, not_applicable
    planned = finished_at(store, job.id, "plan")
    assert items["backup_accessible"][2] == (
        f"a failover uses the read replica, not a backup: prod-replica was checked with AWS to be a read replica of instance prod, "
        f"and available, at {planned:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert "AWS was asked to fail over at" in items["rollback_executed"][2]
    assert items["functionality_verified"][:2] == (False, None) and f"the replica serves writes at {address}" in items["functionality_verified"][2]
    assert [(a.step, a.summary) for a in report.actions] == [("start", "AWS is promoting the read replica prod-replica to a standalone instance")]
    endpoint_entry = next(e for e in report.timeline if e.step == "endpoint" and e.event == "step_finished")
    assert endpoint_entry.summary == f"prod-replica is a standalone instance and available; the application connects to {address}"
    assert [(a.approved, a.by, a.step) for a in report.approvals] == [(True, "oncall", "start")]

    lines = markdown_lines(report)
    assert "## Failover" in lines and "## Restore" not in lines
    assert line_starting(report, "- Replica taking over:") == "- Replica taking over: prod-replica"
    assert line_starting(report, "- Endpoint:") == f"- Endpoint: {address}"
    assert any(line.startswith('A failover to the read replica was asked for (runbook "Database is Down"') for line in lines)
    assert any(line.startswith("- cut-over: point the application's database URL at") for line in lines)


def test_an_aurora_failover_is_reported_with_the_cluster_endpoint(store, target_db, rds_api, cluster, rds_client_for):
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-reader", DBClusterIdentifier="aurora-prod", Engine="aurora-postgresql", DBInstanceClass="db.r6g.large"
    )
    config = make_config(target_db, replace(CLUSTER, read_replica="aurora-prod-reader"), failovers_need_approval=False)
    job, _ = submit_failover(store, config, "prod", "ops")
    assert run_job(store, config, job.id, rds_client_for=rds_client_for).verdict is Verdict.PROCEED
    described = describe_cluster(rds_api, "aurora-prod")

    report = report_of(store, job.id)
    assert report.restore.endpoint == f"{described['Endpoint']}:{described['Port']}"
    assert checklist(report)["backup_accessible"][2].startswith(
        "a failover uses the read replica, not a backup: aurora-prod-reader was checked with AWS to be a reader instance of cluster aurora-prod"
    )
    assert [a.summary for a in report.actions] == ["AWS is failing the Aurora cluster over to its reader instance aurora-prod-reader"]
    assert line_starting(report, "- Plan:").startswith("- Plan: Fail Aurora cluster aurora-prod over to its reader instance aurora-prod-reader")


def test_a_failover_refused_at_planning_says_why_and_changed_nothing(store, target_db, rds_api, instance, rds_client_for):
    small_instance(rds_api, "not-a-replica")
    config = make_config(target_db, replace(INSTANCE, read_replica="not-a-replica"))
    job, _ = submit_failover(store, config, "prod", "ops")
    done = run_job(store, config, job.id, rds_client_for=rds_client_for)
    assert done.verdict is Verdict.BLOCKED

    report = report_of(store, job.id)
    reason = "instance not-a-replica is not a read replica (it replicates from no instance), so there is nothing to promote"
    assert done.reasons == [reason]
    assert checklist(report)["backup_accessible"][2] == f"a failover uses the read replica, not a backup; the failover could not be planned: {reason}"
    assert report.actions == [] and report.restore.endpoint is None
    assert "None: nothing was changed." in markdown_lines(report)
