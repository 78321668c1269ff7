"""The client and the translation of AWS's errors: Stubber for throttling and refusals, a closed port for an unreachable endpoint."""

from __future__ import annotations

import socket

import pytest

from service.config.records import RdsSettings
from service.recovery.rds.backups import list_snapshots
from service.recovery.rds.client import RdsError, RdsUnavailable, rds_client
from service.recovery.rds.restore import poll_restore
from tests.aws import INSTANCE
from tests.service.recovery.rds.helpers import instance_plan


def test_throttling_and_aws_side_errors_are_unavailable_for_the_runner_to_retry(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("describe_db_instances", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_client_error("describe_db_instances", "Throttling", "Rate exceeded", 400)
    stubber.add_client_error("describe_db_instances", "InternalFailure", "oops", 500)

    for code in ("ThrottlingException", "Throttling", "InternalFailure"):
        with pytest.raises(RdsUnavailable) as caught:
            poll_restore(client, instance_plan())
        assert caught.value.code == code


def test_a_busy_resource_is_unavailable_but_a_refusal_by_aws_is_not(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("describe_db_instances", "InvalidDBInstanceState", "instance is backing-up", 400)
    stubber.add_client_error("describe_db_instances", "AccessDenied", "not authorized to perform rds:DescribeDBInstances", 403)

    with pytest.raises(RdsUnavailable, match="backing-up"):
        poll_restore(client, instance_plan())
    with pytest.raises(RdsError) as caught:
        poll_restore(client, instance_plan())
    assert not isinstance(caught.value, RdsUnavailable) and caught.value.code == "AccessDenied"


def test_an_unreachable_endpoint_is_unavailable(aws_credentials):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = rds_client(INSTANCE, endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1, connect_timeout=1, read_timeout=1)

    with pytest.raises(RdsUnavailable, match="cannot reach RDS"):
        list_snapshots(client, INSTANCE)


def test_the_client_retries_briefly_and_uses_the_targets_region(aws_credentials):
    client = rds_client(RdsSettings("eu-central-1", cluster="aurora-prod"))

    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert client.meta.config.connect_timeout == 5 and client.meta.config.read_timeout == 30
