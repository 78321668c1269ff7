"""The snapshot before apply: moto's server, and Stubber for a snapshot still being made or failed."""

from __future__ import annotations

import pytest

from service.config.records import RdsSettings
from service.recovery.rds.backups import list_snapshots
from service.recovery.rds.client import RestoreRefused
from service.recovery.rds.resources import State, job_tags
from service.recovery.rds.snapshot import poll_snapshot, start_snapshot
from tests.aws import CLUSTER, INSTANCE, REGION, small_instance


@pytest.mark.parametrize("settings", [INSTANCE, CLUSTER], ids=["instance", "cluster"])
def test_snapshot_before_apply_is_started_polled_and_resumed(client, rds_api, instance, cluster, settings):
    tags = job_tags("job-31", settings.instance or settings.cluster)

    first = start_snapshot(client, settings, "Before-Deploy-42", tags)
    again = start_snapshot(client, settings, "before-deploy-42", tags)
    status = poll_snapshot(client, settings, "before-deploy-42")

    assert first.to_dict() == {"action": "snapshot", "identifier": "before-deploy-42", "resumed": False}
    assert again.resumed is True
    assert status.state is State.AVAILABLE and status.status == "available"
    assert [s.id for s in list_snapshots(client, settings) if s.type == "manual"] == ["before-deploy-42"]
    with pytest.raises(RestoreRefused, match="made by job job-31"):
        start_snapshot(client, settings, "before-deploy-42", job_tags("job-32", "x"))
    assert poll_snapshot(client, settings, "never-made").state is State.FAILED


def test_start_snapshot_refuses_a_snapshot_of_another_source_or_a_missing_source(client, rds_api, instance):
    small_instance(rds_api, "staging")
    rds_api.create_db_snapshot(DBInstanceIdentifier="staging", DBSnapshotIdentifier="shared-name")
    with pytest.raises(RestoreRefused, match="belongs to staging, not prod"):
        start_snapshot(client, instance, "shared-name", job_tags("job-33", "prod"))
    with pytest.raises(RestoreRefused, match="no RDS instance named gone"):
        start_snapshot(client, RdsSettings(REGION, instance="gone"), "gone-snap", job_tags("job-33", "gone"))
    with pytest.raises(RestoreRefused, match="not valid"):
        start_snapshot(client, instance, "bad--name", job_tags("job-33", "prod"))


def test_a_snapshot_still_being_made_or_failed(stubbed):
    client, stubber = stubbed
    snapshot = {"DBSnapshotIdentifier": "before-deploy", "DBInstanceIdentifier": "prod"}
    stubber.add_response("describe_db_snapshots", {"DBSnapshots": [{**snapshot, "Status": "creating", "PercentProgress": 40}]})
    stubber.add_response("describe_db_snapshots", {"DBSnapshots": [{**snapshot, "Status": "failed"}]})

    creating = poll_snapshot(client, INSTANCE, "before-deploy")
    failed = poll_snapshot(client, INSTANCE, "before-deploy")

    assert (creating.state, creating.progress_percent) == (State.CREATING, 40)
    assert (failed.state, failed.status) == (State.FAILED, "failed")
