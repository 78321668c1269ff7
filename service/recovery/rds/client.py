"""The RDS client, its errors, and the one place where botocore's exceptions become ours.

Every module of this package calls AWS through `call` or `paginate`: a throttle, an AWS-side error,
an unreachable endpoint or a busy resource surfaces as `RdsUnavailable` (the runner tries the step
again later), a refusal by AWS as `RdsError`, and a "not found" the caller expects as None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as AwsConnectionError

from service.config.records import RdsSettings

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
SERVER_SIDE = frozenset({"InternalFailure", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"})
# The resource is busy (backing up, modifying, renaming): the same call can succeed later.
BUSY = frozenset(
    {
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterStateFault",
        "InvalidDBSnapshotState",
        "InvalidDBClusterSnapshotStateFault",
    }
)
INSTANCE_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
CLUSTER_NOT_FOUND = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
SNAPSHOT_NOT_FOUND = frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"})
CLUSTER_SNAPSHOT_NOT_FOUND = frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"})


class RdsError(Exception):
    """An RDS call failed or cannot be made; `code` is AWS's error code when AWS gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RestoreRefused(RdsError):
    """The request cannot be carried out as asked; the message says why in plain words."""


class RdsUnavailable(RdsError):
    """Throttled, unreachable, an AWS-side error, or the resource is busy: try the step again later."""


def rds_client(
    rds: RdsSettings,
    endpoint_url: str | None = None,
    *,
    max_attempts: int = 3,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> RDSClient:
    """A boto3 RDS client for a target's region; credentials come from boto3's usual chain.

    botocore retries throttling and AWS-side errors a couple of times with short backoff; what is
    left surfaces as `RdsUnavailable` for the runner to reschedule.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client("rds", region_name=rds.region, endpoint_url=endpoint_url, config=config)


@contextmanager
def translated(operation: str, absent: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn botocore's errors into ours; an error code in `absent` ("not found") is swallowed."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        if code in absent:
            return
        message = f"{operation}: {details.get('Message') or code}"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in THROTTLED or code in SERVER_SIDE or code in BUSY or status >= 500:
            raise RdsUnavailable(message, code=code) from error
        raise RdsError(message, code=code) from error
    except (AwsConnectionError, HTTPClientError) as error:
        raise RdsUnavailable(f"{operation}: cannot reach RDS ({type(error).__name__})") from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise RdsError(f"{operation}: no usable AWS credentials were found") from error
    except BotoCoreError as error:
        raise RdsError(f"{operation}: {error}") from error


def call(client: RDSClient, operation: str, *, absent: frozenset[str] = frozenset(), **parameters: Any) -> dict[str, Any] | None:
    """One API call by its boto3 method name; None when AWS answers with one of the `absent` codes.

    By name because plans journal the calls they will make (`ApiCall`) and run them as journaled.
    """
    with translated(operation, absent):
        return cast("dict[str, Any]", getattr(client, operation)(**parameters))
    return None


def paginate(client: RDSClient, operation: str, key: str, **parameters: Any) -> list[dict[str, Any]]:
    """Every item under `key` across the pages of a describe call."""
    items: list[dict[str, Any]] = []
    with translated(operation):
        # By name, like `call`: the stubs type get_paginator for literal names only.
        for page in cast("Any", client).get_paginator(operation).paginate(**parameters):
            items.extend(page.get(key, []))
    return items
