"""What the restore, snapshot and cut-over steps share about RDS resources: names, the job's tags,
states, descriptions, the calls a plan journals, and the clock.

A job recognises its own work by the tags it puts on everything it creates (`deploy-gate:job`), so
a step run again after its worker died finds what the earlier run made instead of making it twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.client import CLUSTER_NOT_FOUND, INSTANCE_NOT_FOUND, RestoreRefused, call

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

JOB_TAG = "deploy-gate:job"
SOURCE_TAG = "deploy-gate:source"

MAX_IDENTIFIER = 63
MAX_SNAPSHOT_IDENTIFIER = 255
_IDENTIFIER = re.compile(r"^[a-z](?:-?[a-z0-9])*$")


class State(StrEnum):
    CREATING = "creating"  # still being made (or renamed); poll again later
    AVAILABLE = "available"  # ready to use
    FAILED = "failed"  # will not become available by itself; `status` says what AWS reports

    @property
    def final(self) -> bool:
        return self is not State.CREATING


@dataclass(frozen=True)
class ApiCall:
    """One RDS call exactly as it will be made (boto3 method name and parameters), minus `Tags`."""

    operation: str
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "parameters": dict(self.parameters)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiCall:
        return cls(data["operation"], dict(data["parameters"]))


@dataclass(frozen=True)
class Started:
    """A `start_*` or rename step's outcome; `resumed` means an earlier run had already done it."""

    action: str
    identifier: str
    resumed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "identifier": self.identifier, "resumed": self.resumed}


# Names


def source_name(rds: RdsSettings) -> str:
    """The target's instance or Aurora cluster, as RDS stores its name."""
    if bool(rds.instance) == bool(rds.cluster):
        raise ValueError("RdsSettings needs exactly one of instance or cluster")
    return (rds.cluster or rds.instance or "").lower()


def check_identifier(identifier: str, what: str = "identifier", *, max_length: int = MAX_IDENTIFIER) -> str:
    """The identifier as RDS stores it (lower case), or `RestoreRefused` saying what is wrong."""
    name = identifier.strip().lower()
    if not name or len(name) > max_length:
        raise RestoreRefused(f"{what} {identifier!r} must be 1 to {max_length} characters long")
    if not _IDENTIFIER.match(name):
        raise RestoreRefused(
            f"{what} {identifier!r} is not valid for RDS: use letters, digits and hyphens, start with a "
            "letter, and do not end with a hyphen or use two hyphens in a row"
        )
    return name


def derive(base: str, suffix: str, limit: int = MAX_IDENTIFIER) -> str:
    """`base` + `suffix`, shortening `base` to fit the limit without leaving a hyphen at the cut."""
    return base[: limit - len(suffix)].rstrip("-") + suffix


# The job's tags


def job_tags(job_id: str, source: str) -> dict[str, str]:
    """The tags every resource a job creates carries, so a re-run recognises its own work."""
    return {JOB_TAG: str(job_id), SOURCE_TAG: source}


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in resource.get("TagList") or []}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def require_job_tag(tags: Mapping[str, str]) -> None:
    if not tags.get(JOB_TAG):
        raise ValueError(f"tags must carry {JOB_TAG} so that a re-run can recognise its own work")


def check_ours(found_tags: Mapping[str, str], tags: Mapping[str, str], what: str) -> None:
    """Refuse a resource (carrying `found_tags`) that is already there unless this job made it."""
    found = found_tags.get(JOB_TAG)
    if found != tags[JOB_TAG]:
        owner = f"job {found}" if found else "someone else"
        raise RestoreRefused(f"{what} already exists and was made by {owner}, not by this job; choose another identifier")


# Describing


def describe_instance(client: RDSClient, identifier: str) -> dict[str, Any] | None:
    found = call(client, "describe_db_instances", absent=INSTANCE_NOT_FOUND, DBInstanceIdentifier=identifier)
    instances: list[dict[str, Any]] = (found or {}).get("DBInstances", [])
    return instances[0] if instances else None


def describe_cluster(client: RDSClient, identifier: str) -> dict[str, Any] | None:
    found = call(client, "describe_db_clusters", absent=CLUSTER_NOT_FOUND, DBClusterIdentifier=identifier)
    clusters: list[dict[str, Any]] = (found or {}).get("DBClusters", [])
    return clusters[0] if clusters else None


def require_instance(client: RDSClient, identifier: str) -> dict[str, Any]:
    instance = describe_instance(client, identifier)
    if instance is None:
        raise RestoreRefused(f"there is no RDS instance named {identifier}")
    return instance


def require_cluster(client: RDSClient, identifier: str) -> dict[str, Any]:
    cluster = describe_cluster(client, identifier)
    if cluster is None:
        raise RestoreRefused(f"there is no RDS cluster named {identifier}")
    return cluster


def status_of(resource: Mapping[str, Any]) -> str:
    """AWS's own word for where an instance or a cluster is (`available`, `creating`, `renaming`, ...)."""
    status: str = resource.get("DBInstanceStatus") or resource.get("Status") or "unknown"
    return status


def endpoint_of(resource: Mapping[str, Any], aurora: bool) -> tuple[str | None, int | None]:
    if aurora:
        return resource.get("Endpoint"), resource.get("Port")
    endpoint = resource.get("Endpoint") or {}
    return endpoint.get("Address"), endpoint.get("Port")


# The clock


def deadline_passed(started_at: datetime, now: datetime, limit: timedelta) -> bool:
    """Whether a step begun at `started_at` has been polled for longer than `limit`."""
    return aware(now, "now") - aware(started_at, "started_at") > limit


def aware(moment: datetime, name: str) -> datetime:
    """`moment` in UTC; a naive time is a caller's mistake, never guessed at."""
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def utc(moment: datetime) -> datetime:
    """A time AWS reported, in UTC (botocore gives aware times; a naive one is UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
