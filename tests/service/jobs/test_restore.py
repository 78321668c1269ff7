"""Restore jobs against moto's RDS on 127.0.0.1: snapshot and point in time, instance and Aurora,
approval and rejection, cut-over, snapshot before apply, and AWS failures moto cannot produce."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from service.config.records import Config, Policy, Target
from service.jobs.restore import run_restore, snapshot_before_apply
from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.steps import JobRun
from service.jobs.submit_recovery import NoRdsConfigured, submit_cutover, submit_restore
from service.prisma.database import parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.recovery.rds.client import RestoreRefused, rds_client
from service.recovery.rds.cutover import RENAME_TIME_LIMIT
from service.recovery.rds.snapshot import SNAPSHOT_TIME_LIMIT
from service.store import repository
from tests.aws import CLUSTER, INSTANCE, REGION, describe_instance, with_status


@pytest.fixture
def client_for(moto_endpoint):
    return lambda settings: rds_client(settings, endpoint_url=moto_endpoint)


def make_config(target_db, rds, **policy) -> Config:
    target = Target("prod", parse_database_url(target_db.url), Policy(**policy), rds=rds)
    return Config({"prod": target}, ())


class Told(list):
    def __call__(self, kind, job, **details):
        self.append((kind, details))

    @property
    def kinds(self):
        return [kind for kind, _ in self]


def tags_of(rds_api, identifier):
    arn = describe_instance(rds_api, identifier)["DBInstanceArn"]
    return {tag["Key"]: tag["Value"] for tag in rds_api.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_snapshot_restore_waits_for_approval_then_restores_to_a_new_instance(store, target_db, rds_api, instance, client_for):
    rds_api.create_db_snapshot(DBSnapshotIdentifier="prod-before-incident", DBInstanceIdentifier="prod")
    config = make_config(target_db, INSTANCE)
    job, _ = submit_restore(store, config, "prod", {"snapshot_id": "prod-before-incident", "new_identifier": "prod-recovery"}, "ops")
    told = Told()

    waiting = run_job(store, config, job.id, rds_client_for=client_for, notify=told)
    assert waiting.state is JobState.WAITING_APPROVAL
    plan = waiting.facts["approval"]["restore"]
    assert (plan["source"], plan["snapshot_id"], plan["new_identifier"]) == ("prod", "prod-before-incident", "prod-recovery")
    assert waiting.facts["approval"]["plan"][1].startswith("AWS call: restore_db_instance_from_db_snapshot(")
    assert told.kinds == ["approval_needed"]
    assert "prod-recovery" not in {i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"]}

    repository.record_approval(store, job.id, approved=True, by="oncall", comment="restore it")
    done = run_job(store, config, job.id, rds_client_for=client_for, notify=told)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert done.facts["restore"]["new_identifier"] == "prod-recovery"
    assert done.facts["restore"]["endpoint"].startswith("prod-recovery.")
    assert any(reason.startswith("prod-recovery is available at prod-recovery.") for reason in done.reasons)
    assert told.kinds == ["approval_needed", "restore_started", "restore_finished"]
    assert tags_of(rds_api, "prod-recovery")["deploy-gate:job"] == job.id
    assert describe_instance(rds_api, "prod")["DBInstanceStatus"] == "available"  # the source is untouched


def test_a_rejected_restore_starts_nothing(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE)
    job, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True}, "ops")
    run_job(store, config, job.id, rds_client_for=client_for)
    rejected = repository.record_approval(store, job.id, approved=False, by="oncall", comment=None, reasons=["rejected by oncall"])
    assert run_job(store, config, job.id, rds_client_for=client_for) == rejected
    assert [i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"]] == ["prod"]


def test_point_in_time_restore_without_approval_when_the_policy_says_so(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    latest = describe_instance(rds_api, "prod")["LatestRestorableTime"]
    job, _ = submit_restore(store, config, "prod", {"point_in_time": latest.isoformat(), "new_identifier": "prod-pitr"}, "ops")
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert done.facts["plan"]["kind"] == "point_in_time"
    assert describe_instance(rds_api, "prod-pitr")["DBInstanceStatus"] == "available"


def test_a_time_outside_the_window_is_refused_before_anything_starts(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    job, _ = submit_restore(store, config, "prod", {"point_in_time": "2001-01-01T00:00:00+00:00"}, "ops")
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.BLOCKED and "restorable" in done.reasons[0]
    assert [i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"]] == ["prod"]


def test_aurora_cluster_restore_then_its_instance(store, target_db, rds_api, cluster, client_for):
    config = make_config(target_db, CLUSTER, restores_need_approval=False)
    job, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True, "new_identifier": "aurora-recovery"}, "ops")
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert done.facts["start"]["action"] == "restore_cluster" and done.facts["start_instance"]["action"] == "create_instance"
    members = rds_api.describe_db_clusters(DBClusterIdentifier="aurora-recovery")["DBClusters"][0]["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members] == ["aurora-recovery-instance-1"]


def test_cutover_is_approved_separately_and_swaps_the_names(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    restore, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True, "new_identifier": "prod-recovery"}, "ops")
    assert run_job(store, config, restore.id, rds_client_for=client_for).verdict is Verdict.PROCEED
    cutover, created = submit_cutover(store, config, restore.id, "ops")
    assert created and cutover.params == {"action": "cutover", "restore_job": restore.id, "new_identifier": "prod-recovery"}

    waiting = run_job(store, config, cutover.id, rds_client_for=client_for)
    assert waiting.state is JobState.WAITING_APPROVAL  # even though restores need no approval here
    assert waiting.facts["approval"]["cutover"]["old_renamed_to"].startswith("prod-old-")
    repository.record_approval(store, cutover.id, approved=True, by="oncall", comment=None)
    done = run_job(store, config, cutover.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert tags_of(rds_api, "prod")["deploy-gate:job"] == restore.id  # "prod" is now the restored copy
    names = {i["DBInstanceIdentifier"] for i in rds_api.describe_db_instances()["DBInstances"]}
    assert names == {"prod", waiting.facts["approval"]["cutover"]["old_renamed_to"]}


def test_a_restore_still_creating_is_polled_in_short_steps_and_one_that_fails_is_reported(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    job, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True, "new_identifier": "prod-recovery"}, "ops")
    told = Told()
    creating = with_status(client_for, "prod-recovery", ["creating"] * 10)
    with pytest.raises(Deferred) as deferred:
        run_job(store, config, job.id, rds_client_for=creating, notify=told)
    assert deferred.value.reason == "prod-recovery is creating" and deferred.value.seconds <= 60
    assert repository.finished_steps(store, job.id)["poll:1"]["status"] == "creating"

    failing = with_status(client_for, "prod-recovery", ["incompatible-restore"] * 10)
    done = run_job(store, config, job.id, rds_client_for=failing, notify=told)
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons[-1] == "the restore to prod-recovery failed: AWS reports incompatible-restore"
    # Started once however often it ran; the failure, then the blocked verdict.
    assert told.kinds == ["restore_started", "restore_failed", "verdict_blocked"]


def test_throttling_defers_the_job(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    job, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True}, "ops")

    def throttled(settings):
        client = client_for(settings)

        def refuse(**kwargs):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "DescribeDBInstances")

        client.meta.events.register("before-call.rds.DescribeDBInstances", refuse)
        return client

    with pytest.raises(Deferred) as deferred:
        run_job(store, config, job.id, rds_client_for=throttled)
    assert deferred.value.reason.startswith("AWS is not answering")
    assert repository.get_job(store, job.id).state is JobState.RUNNING


def test_a_deploy_takes_a_snapshot_before_it_applies(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, snapshot_before_apply=True)
    digest = repository.store_bundle(store, migrations_from_bundle({"20240101_a": 'CREATE TABLE "A" ("id" INT);'}))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="prod", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    done = run_job(store, config, job.id, rds_client_for=client_for)
    assert done.verdict is Verdict.PROCEED, done.reasons
    snapshot_id = done.facts["snapshot"]["snapshot_id"]
    snapshot = rds_api.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
    assert snapshot["SnapshotType"] == "manual" and snapshot["Status"] == "available"
    events = [e.step for e in repository.job_events(store, job.id) if e.kind == "step_finished"]
    assert events.index("snapshot:available") < events.index("apply:20240101_a")


def test_a_restore_of_a_target_without_rds_is_refused(store, target_db):
    config = make_config(target_db, None)
    with pytest.raises(NoRdsConfigured):
        submit_restore(store, config, "prod", {"use_latest_restorable_time": True}, "ops")


# Nothing is polled for ever: a snapshot or a rename AWS never finishes ends the wait


def resumed_run(store, config, job_id, notify=None) -> JobRun:
    """The job as its next task run sees it, to run a step function with the clock moved on."""
    job = repository.get_job(store, job_id)
    return JobRun(store, job, config.targets[job.target], None, repository.finished_steps(store, job_id), notify=notify if notify is not None else Told())


def stubbed_rds(add_responses):
    """A client factory for one run: its client answers only what `add_responses(stubber)` queued, in order."""
    client = boto3.client("rds", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    add_responses(stubber)
    stubber.activate()

    def make(settings):
        return client

    make.stubber = stubber
    return make


def described(stubber, identifier, status, job=None):
    """The next DescribeDBInstances of `identifier`: `status` (tagged by `job`), or not found when None."""
    expected = {"DBInstanceIdentifier": identifier}
    if status is None:
        stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", f"DBInstance {identifier} not found.", 404, expected_params=expected)
        return
    tags = [{"Key": "deploy-gate:job", "Value": job}] if job else []
    instance = {"DBInstanceIdentifier": identifier, "DBInstanceStatus": status, "TagList": tags}
    stubber.add_response("describe_db_instances", {"DBInstances": [instance]}, expected)


def snapshots_creating(client_for):
    """The real client on moto, with DescribeDBSnapshots reporting every snapshot as still being made."""

    def make(settings):
        client = client_for(settings)

        def rewrite(parsed, **kwargs):
            for snapshot in parsed.get("DBSnapshots", []):
                snapshot["Status"], snapshot["PercentProgress"] = "creating", 40

        client.meta.events.register("after-call.rds.DescribeDBSnapshots", rewrite)
        return client

    return make


def test_a_snapshot_before_apply_not_available_within_its_time_limit_blocks_the_deploy_before_anything_is_applied(
    store, target_db, rds_api, instance, client_for
):
    config = make_config(target_db, INSTANCE, snapshot_before_apply=True)
    digest = repository.store_bundle(store, migrations_from_bundle({"20240101_a": 'CREATE TABLE "A" ("id" INT);'}))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="prod", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    with pytest.raises(Deferred) as deferred:
        run_job(store, config, job.id, rds_client_for=snapshots_creating(client_for))
    snapshot_id = repository.finished_steps(store, job.id)["snapshot"]["snapshot_id"]
    assert deferred.value.reason == f"snapshot {snapshot_id} is creating"
    started = repository.step_finished_at(store, job.id, "snapshot:start")

    def creating(stubber):
        response = {"DBSnapshots": [{"DBSnapshotIdentifier": snapshot_id, "DBInstanceIdentifier": "prod", "Status": "creating", "PercentProgress": 40}]}
        for _ in range(2):  # one poll within the limit, one past it
            stubber.add_response("describe_db_snapshots", response, {"DBSnapshotIdentifier": snapshot_id})

    still_creating = stubbed_rds(creating)
    with pytest.raises(Deferred):
        snapshot_before_apply(resumed_run(store, config, job.id), still_creating, now=lambda: started + SNAPSHOT_TIME_LIMIT)
    with pytest.raises(RestoreRefused) as refused:
        snapshot_before_apply(resumed_run(store, config, job.id), still_creating, now=lambda: started + SNAPSHOT_TIME_LIMIT + timedelta(seconds=1))

    assert str(refused.value) == (
        f"the snapshot {snapshot_id} was not available after 6 hours (AWS reports creating, 40% done); "
        "nothing was applied. AWS may still finish the snapshot; deploy again to take a new one"
    )
    steps = repository.finished_steps(store, job.id)
    assert steps["snapshot:timed_out"]["reason"] == str(refused.value) and steps["snapshot:timed_out"]["status"] == "creating"
    assert [steps[f"snapshot:poll:{n}"]["status"] for n in (1, 2)] == ["creating", "creating"]
    still_creating.stubber.assert_no_pending_responses()
    with target_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('public.\"A\"')").fetchone()[0] is None


def test_a_failed_snapshot_before_apply_blocks_the_deploy(store, target_db):
    """The runner blocks a deploy on any refusal of the snapshot step, the time limit's included."""
    config = make_config(target_db, INSTANCE, snapshot_before_apply=True)
    digest = repository.store_bundle(store, migrations_from_bundle({"20240101_a": 'CREATE TABLE "A" ("id" INT);'}))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="prod", requested_by="ci", params={"apply": True}, bundle_digest=digest)

    def failed(stubber):
        stubber.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", "not found", 404)
        stubber.add_response("create_db_snapshot", {"DBSnapshot": {"DBSnapshotIdentifier": "x"}})
        stubber.add_response("describe_db_snapshots", {"DBSnapshots": [{"DBSnapshotIdentifier": "x", "DBInstanceIdentifier": "prod", "Status": "failed"}]})

    done = run_job(store, config, job.id, rds_client_for=stubbed_rds(failed))

    snapshot_id = done.facts["snapshot"]["snapshot_id"]
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons == [f"no snapshot before apply: the snapshot {snapshot_id} before apply failed (failed)"]
    with target_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('public.\"A\"')").fetchone()[0] is None


def test_a_cutover_rename_not_finished_within_its_time_limit_stops_and_says_what_a_person_must_do(store, target_db, rds_api, instance, client_for):
    config = make_config(target_db, INSTANCE, restores_need_approval=False)
    restore, _ = submit_restore(store, config, "prod", {"use_latest_restorable_time": True, "new_identifier": "prod-recovery"}, "ops")
    assert run_job(store, config, restore.id, rds_client_for=client_for).verdict is Verdict.PROCEED
    cutover, _ = submit_cutover(store, config, restore.id, "ops")
    away = run_job(store, config, cutover.id, rds_client_for=client_for).facts["approval"]["cutover"]["old_renamed_to"]
    repository.record_approval(store, cutover.id, approved=True, by="oncall", comment=None)
    # moto renames prod away at once; AWS reports the renamed instance busy for a while.
    with pytest.raises(Deferred) as deferred:
        run_job(store, config, cutover.id, rds_client_for=with_status(client_for, away, ["renaming"] * 10))
    assert deferred.value.reason == f"renaming prod to {away}: {away} is renaming"
    renamed_at = repository.step_finished_at(store, cutover.id, "cutover:rename_old")

    def still_renaming(stubber):
        described(stubber, "prod", None)
        described(stubber, away, "renaming")

    def still_renaming_and_where_each_name_stands(stubber):
        still_renaming(stubber)
        for identifier, status, job in (("prod", None, None), (away, "renaming", None), ("prod-recovery", "available", restore.id)):
            described(stubber, identifier, status, job)

    polled = stubbed_rds(still_renaming)
    with pytest.raises(Deferred):
        run_restore(resumed_run(store, config, cutover.id), polled, now=lambda: renamed_at + RENAME_TIME_LIMIT)
    past_the_limit = stubbed_rds(still_renaming_and_where_each_name_stands)
    told = Told()
    late = renamed_at + RENAME_TIME_LIMIT + timedelta(seconds=1)
    verdict, reasons = run_restore(resumed_run(store, config, cutover.id, told), past_the_limit, now=lambda: late)

    assert verdict is Verdict.BLOCKED
    why = f"renaming prod to {away} did not finish within 30 minutes ({away} is renaming)"
    assert reasons[2:6] == [
        f"the cut-over stopped: {why}",
        "prod holds nothing",
        f"{away} holds the old instance (renaming)",
        "prod-recovery holds the restored copy (available)",
    ]
    assert reasons[6] == "No instance answers under prod: the application cannot reach its database until one takes that name."
    assert "--db-instance-identifier prod-recovery --new-db-instance-identifier prod --apply-immediately" in reasons[7]
    assert f"--db-instance-identifier {away} --new-db-instance-identifier prod --apply-immediately" in reasons[8]
    stuck = repository.finished_steps(store, cutover.id)["cutover:stuck"]
    assert stuck["reason"] == why and [n["holds"] for n in stuck["names"]] == ["nothing", "the old instance", "the restored copy"]
    assert told == [("restore_failed", {"error": f"the cut-over stopped: {why}", "new_instance": "prod-recovery"})]
    for factory in (polled, past_the_limit):
        factory.stubber.assert_no_pending_responses()
    assert "cutover:rename_new" not in repository.finished_steps(store, cutover.id)
