"""AWS for the tests: moto's server on 127.0.0.1, and an RDS instance and an Aurora cluster on it.

One server for the whole session; each test starts from an empty account (moto's reset endpoint),
with dummy credentials in the environment and no AWS configuration files read. Loaded by
tests/conftest.py as a plugin, so any test can ask for `rds_api`, `instance` or `cluster`.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from service.config.records import RdsSettings

REGION = "us-east-1"
INSTANCE = RdsSettings(REGION, instance="prod")
CLUSTER = RdsSettings(REGION, cluster="aurora-prod")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    # The server logs every request through werkzeug; only errors are worth seeing.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Dummy credentials only: nothing on this machine can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws(moto_endpoint: str, aws_credentials: None) -> Callable[[str], Any]:
    """A boto3 client for any service on the moto server, which starts this test empty."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=moto_endpoint)

    return client


@pytest.fixture
def rds_api(aws: Callable[[str], Any]) -> Any:
    return aws("rds")


@pytest.fixture
def network(aws) -> dict[str, Any]:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"] for n, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="database", Description="database", VpcId=vpc)["GroupId"]
    rds = aws("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="db-private", DBSubnetGroupDescription="private", SubnetIds=subnets)
    return {"security_group": group, "subnet_group": "db-private"}


def small_instance(rds_api: Any, identifier: str, **extra: Any) -> None:
    """An instance deploy-gate did not make (another environment's, or one made by hand)."""
    rds_api.create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        **extra,
    )


@pytest.fixture
def instance(rds_api, network) -> RdsSettings:
    rds_api.create_db_parameter_group(DBParameterGroupName="prod-pg15", DBParameterGroupFamily="postgres15", Description="prod")
    rds_api.create_db_instance(
        DBInstanceIdentifier="prod",
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        EngineVersion="15.4",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        DBSubnetGroupName=network["subnet_group"],
        VpcSecurityGroupIds=[network["security_group"]],
        DBParameterGroupName="prod-pg15",
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "care"}],
    )
    return INSTANCE


@pytest.fixture
def cluster(rds_api, network) -> RdsSettings:
    rds_api.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="aurora-cluster-pg", DBParameterGroupFamily="aurora-postgresql15", Description="cluster"
    )
    rds_api.create_db_parameter_group(DBParameterGroupName="aurora-instance-pg", DBParameterGroupFamily="aurora-postgresql15", Description="instance")
    rds_api.create_db_cluster(
        DBClusterIdentifier="aurora-prod",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        DBSubnetGroupName=network["subnet_group"],
        VpcSecurityGroupIds=[network["security_group"]],
        DBClusterParameterGroupName="aurora-cluster-pg",
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "care"}],
    )
    rds_api.create_db_instance(
        DBInstanceIdentifier="aurora-prod-writer",
        DBClusterIdentifier="aurora-prod",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        DBParameterGroupName="aurora-instance-pg",
        PubliclyAccessible=False,
    )
    return CLUSTER


def describe_instance(rds_api, identifier: str) -> dict[str, Any]:
    return rds_api.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def describe_cluster(rds_api, identifier: str) -> dict[str, Any]:
    return rds_api.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def with_status(client_for, identifier, statuses):
    """The real client on moto, with DescribeDBInstances reporting the given statuses for one instance."""
    remaining = list(statuses)

    def make(settings):
        client = client_for(settings)

        def rewrite(parsed, **kwargs):
            for described in parsed.get("DBInstances", []):
                if described["DBInstanceIdentifier"] == identifier and remaining:
                    described["DBInstanceStatus"] = remaining.pop(0)

        client.meta.events.register("after-call.rds.DescribeDBInstances", rewrite)
        return client

    return make


@pytest.fixture
def rds_client_for(moto_endpoint: str) -> Callable[[RdsSettings], Any]:
    """What a job runner takes as `rds_client_for`: deploy-gate's own RDS client, on moto's server."""
    from service.recovery.rds.client import rds_client

    return lambda settings: rds_client(settings, endpoint_url=moto_endpoint)


def reporting_promotion(client_for, identifier, statuses=(), *, asked=False):
    """The real client on moto, with a read replica's promotion described as AWS describes it.

    moto promotes a replica at once but goes on describing it as a replica of its source; AWS
    reports it busy for a while (`statuses`, one describe each) and then available with no
    source. Until a PromoteReadReplica call goes through a client this factory made (or `asked`:
    an earlier run made it), the replica is described as moto has it.
    """
    promotion = {"asked": asked, "statuses": list(statuses)}

    def make(settings):
        client = client_for(settings)

        def promote(**kwargs):
            promotion["asked"] = True

        def rewrite(parsed, **kwargs):
            for described in parsed.get("DBInstances", []):
                if described["DBInstanceIdentifier"] != identifier or not promotion["asked"]:
                    continue
                if promotion["statuses"]:
                    described["DBInstanceStatus"] = promotion["statuses"].pop(0)
                else:
                    described.pop("ReadReplicaSourceDBInstanceIdentifier", None)

        client.meta.events.register("after-call.rds.PromoteReadReplica", promote)
        client.meta.events.register("after-call.rds.DescribeDBInstances", rewrite)
        return client

    return make


def moto_still_a_replica(identifier: str) -> bool:
    """Whether moto's own record of an instance says it is a read replica: moto's API keeps naming
    the source of a promoted replica, so this is the only place its promotion shows."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.rds.models import rds_backends

    return bool(rds_backends[DEFAULT_ACCOUNT_ID][REGION].databases[identifier].is_replica)
