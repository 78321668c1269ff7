"""Accept work: validate a deploy or check request against the configuration and store its job.

A job's task is enqueued only after its row has committed, never before: by the caller once this
returns, or by the JobIntake that stored it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from service.combining import Combiner
from service.config.records import Config
from service.jobs.states import JobKind
from service.prisma.migrations import LocalMigrations
from service.store import repository
from service.store.repository import Job, NewJob

log = logging.getLogger(__name__)


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
    extra: dict[str, Any] = field(default_factory=dict)
    # The Prisma major version the build's project uses (service.prisma.execution); None: the target's.
    prisma_version: int | None = None


class JobIntake:
    """Stores and enqueues the jobs that concurrent requests in one process submit: several to a
    statement, and the new ones' tasks sent together once it has committed (service.combining).
    Each call returns once its own job has committed and, if new, been handed to `enqueue`."""

    def __init__(self, pool: ConnectionPool, enqueue: Callable[..., None]) -> None:
        self._pool = pool
        self._enqueue = enqueue  # enqueue(*job_ids); a failure fails the whole batch (see enqueue_committed)
        self._store = Combiner(self._store_all)

    def __call__(self, new: NewJob) -> tuple[Job, bool]:
        return self._store(new)

    def submit_deploy(self, config: Config, request: DeployRequest, requested_by: str, idempotency_key: str | None = None) -> tuple[Job, bool]:
        """`submit_deploy`, with the job stored and enqueued by this intake."""
        new, digest = _deploy_job(config, request, requested_by, idempotency_key, self._last_bundle_digest)
        return _first_use_of_key(new, digest, self(new))

    def _last_bundle_digest(self, target: str) -> str | None:
        # On a connection held for this read alone: a request holding one while it waits on the
        # intake could leave the intake none to store with.
        with self._pool.connection() as conn:
            return repository.latest_bundle_digest(conn, target)

    def _store_all(self, new_jobs: Sequence[NewJob]) -> list[tuple[Job, bool] | Exception]:
        with self._pool.connection() as conn:
            results = self._create(conn, new_jobs)
        created = [result[0].id for result in results if not isinstance(result, Exception) and result[1]]
        if created:
            self._enqueue(*created)
        return results

    @staticmethod
    def _create(conn: psycopg.Connection, new_jobs: Sequence[NewJob]) -> list[tuple[Job, bool] | Exception]:
        try:
            return [*repository.create_jobs(conn, new_jobs)]
        except psycopg.OperationalError:
            raise  # the store is unreachable: every job of the batch fails alike
        except psycopg.Error:
            if len(new_jobs) == 1:
                raise
        # One job the store refuses must not fail the others: each on its own.
        results: list[tuple[Job, bool] | Exception] = []
        for new in new_jobs:
            try:
                results.append(repository.create_jobs(conn, [new])[0])
            except psycopg.Error as error:
                results.append(error)
        return results


def enqueue_committed(enqueue: Callable[..., None]) -> Callable[..., None]:
    """`enqueue(*job_ids)` for jobs whose rows have committed: a broker that fails does not fail
    the request that stored them. They stay queued (or running) in the store and the reconciler
    sends them. Only the error's type is logged: its text may hold the broker's URL."""

    def send(*job_ids: str) -> None:
        try:
            enqueue(*job_ids)
        except Exception as error:  # noqa: BLE001 - the jobs are safe in the store
            log.warning("could not enqueue job(s) %s (%s); the reconciler will", ", ".join(job_ids), type(error).__name__)

    return send


def submit_deploy(
    store: psycopg.Connection,
    config: Config,
    request: DeployRequest,
    requested_by: str,
    idempotency_key: str | None = None,
) -> tuple[Job, bool]:
    """Store the job a deploy request asks for; (job, created). A repeated key returns the first job.
    The caller enqueues a new job; the last bundle, when the request brings none, is read on `store`."""
    new, digest = _deploy_job(config, request, requested_by, idempotency_key, lambda target: repository.latest_bundle_digest(store, target))
    return _first_use_of_key(new, digest, repository.create_jobs(store, [new])[0])


def _deploy_job(
    config: Config, request: DeployRequest, requested_by: str, idempotency_key: str | None, last_bundle_digest: Callable[[str], str | None]
) -> tuple[NewJob, str]:
    """The job a deploy request asks for, and the digest of its bundle."""
    if request.target not in config.targets:
        raise UnknownTarget(request.target)
    bundle = request.migrations
    if bundle is not None:
        bundle.check_provider()
        digest = repository.bundle_digest(bundle)
    else:
        last = last_bundle_digest(request.target)
        if last is None:
            raise NoBundle(f"no migrations in the request and none stored for target {request.target}")
        digest = last
    kind = JobKind.DEPLOY if request.apply and request.phase == "pre" else JobKind.CHECK
    if request.phase == "failed":
        kind = JobKind.RECOVER
    params = {
        "phase": request.phase,
        "apply": request.apply,
        "commit": request.commit,
        "deployment_id": request.deployment_id,
        "prisma_version": request.prisma_version,
        **request.extra,
    }
    params = {key: value for key, value in params.items() if value is not None}
    # A bundle that came with the request is stored (if new) in the statement that stores the job.
    return NewJob(kind, request.target, requested_by, params, bundle_digest=digest, idempotency_key=idempotency_key, bundle=bundle), digest


def _first_use_of_key(new: NewJob, digest: str, stored: tuple[Job, bool]) -> tuple[Job, bool]:
    """`stored`, unless the key's earlier job was asked for by a different request."""
    job, created = stored
    # An existing job comes back only for a key it was stored with.
    if not created and new.idempotency_key is not None and (job.kind, job.target, job.bundle_digest, job.params) != (new.kind, new.target, digest, new.params):
        raise IdempotencyKeyReused(new.idempotency_key)
    return stored


def submit_check(store: psycopg.Connection, config: Config, target: str, requested_by: str, phase: str = "post") -> Job:
    """A status-and-lint check of a target against its last stored bundle."""
    return submit_deploy(store, config, DeployRequest(target=target, phase=phase), requested_by)[0]
