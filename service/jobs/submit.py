"""Accept work: validate a deploy or check request against the configuration and store its job.

The caller enqueues the job's task after this returns (after the row has committed), never before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from service.config import Config
from service.jobs.states import JobKind
from service.prisma.migrations import LocalMigrations
from service.store import repository
from service.store.repository import Job


class UnknownTarget(LookupError):
    def __init__(self, target: str) -> None:
        super().__init__(f"no target named {target!r} is configured")
        self.target = target


class IdempotencyKeyReused(ValueError):
    """The key came back with a different request: answering with the first job would mislead."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the Idempotency-Key {key!r} was used before for a different request")


class NoBundle(LookupError):
    """No migrations came with the request and none was stored for the target before."""


@dataclass(frozen=True)
class DeployRequest:
    target: str
    phase: str = "pre"  # pre | post | failed
    apply: bool = False
    commit: str | None = None
    deployment_id: str | None = None
    migrations: LocalMigrations | None = None  # None: the last stored bundle for this target
    extra: dict = field(default_factory=dict)


def submit_deploy(
    store: psycopg.Connection, config: Config, request: DeployRequest, requested_by: str, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Store the job a deploy request asks for; (job, created). A repeated key returns the first job."""
    if request.target not in config.targets:
        raise UnknownTarget(request.target)
    bundle = request.migrations
    if bundle is not None:
        bundle.check_provider()
        digest = repository.bundle_digest(bundle)
    else:
        digest = repository.latest_bundle_digest(store, request.target)
        if digest is None:
            raise NoBundle(f"no migrations in the request and none stored for target {request.target}")
    kind = JobKind.DEPLOY if request.apply and request.phase == "pre" else JobKind.CHECK
    if request.phase == "failed":
        kind = JobKind.RECOVER
    params = {"phase": request.phase, "apply": request.apply, "commit": request.commit, "deployment_id": request.deployment_id, **request.extra}
    params = {key: value for key, value in params.items() if value is not None}
    # A bundle that came with the request is stored (if new) in the statement that stores the job.
    bundle_argument = {"bundle": bundle} if bundle is not None else {"bundle_digest": digest}
    job, created = repository.create_job(
        store, kind=kind, target=request.target, requested_by=requested_by, params=params, idempotency_key=idempotency_key, **bundle_argument
    )
    if not created and (job.kind, job.target, job.bundle_digest, job.params) != (kind, request.target, digest, params):
        raise IdempotencyKeyReused(idempotency_key)
    return job, created


def submit_check(store: psycopg.Connection, config: Config, target: str, requested_by: str, phase: str = "post") -> Job:
    """A status-and-lint check of a target against its last stored bundle."""
    return submit_deploy(store, config, DeployRequest(target=target, phase=phase), requested_by)[0]
