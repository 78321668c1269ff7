"""Fixtures for the RDS tests: the package's own client on moto, and a client behind botocore's Stubber."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from service.recovery.rds.client import rds_client
from tests.aws import INSTANCE, REGION


@pytest.fixture
def client(moto_endpoint: str, aws_credentials: None, aws) -> Any:
    """The client the module builds for itself, pointed at moto."""
    return rds_client(INSTANCE, endpoint_url=moto_endpoint)


@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("rds", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
