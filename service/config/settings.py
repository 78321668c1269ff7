"""Settings: one object from the environment (12-factor, shared by the web process and the workers).
The README's "Settings" table repeats this one for users: change both.

| variable | default | meaning |
| --- | --- | --- |
| `DEPLOY_GATE_DATABASE_URL` | `postgresql://postgres@127.0.0.1:5432/deploy_gate` | the service's own store |
| `DEPLOY_GATE_BROKER_URL` | `redis://127.0.0.1:6379/0` | the Celery broker, any kombu URL (`redis://`, `rediss://`, `amqp://`, `sqs://`, ...) |
| `DEPLOY_GATE_REDIS_URL` | | the broker's former name, read when `DEPLOY_GATE_BROKER_URL` is unset |
| `DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS` | `{}` | kombu transport options (a JSON object) over those set per broker (workers.celery_app) |
| `DEPLOY_GATE_CONFIG` | `deploy-gate.toml` | the targets and tokens file |
| `DEPLOY_GATE_MAX_BUNDLE_BYTES` | 10485760 | the largest migrations bundle a request may carry |
| `DEPLOY_GATE_VISIBILITY_TIMEOUT` | 7200 | seconds before an unacknowledged task goes to another worker |
| `DEPLOY_GATE_JOB_CACHE_SECONDS` | 5 | the oldest per-process copy of a job a read may be answered from (0: none) |
| `DEPLOY_GATE_STORE_POOL_WAIT_SECONDS` | 15 | how long an API request waits for one of its process's store connections while the store answers (a 503 after; a store found unreachable is answered 503 within about a second) |
| `DEPLOY_GATE_STORE_CONNECT_TIMEOUT_SECONDS` | 2 | how long the API waits to open a connection to the store (libpq's `connect_timeout`; 2 is its least) |
| `DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS` | 10 | how often each worker process records its heartbeat in the store |
| `DEPLOY_GATE_WORKER_STALE_SECONDS` | 30 | a worker whose heartbeat is older is dead: its running job resumes elsewhere, and `/readyz` counts only fresher ones |
| `DEPLOY_GATE_RECONCILE_SECONDS` | 15 | how often the beat runs the reconciler (a dead worker's job resumes within the stale age plus this) |
| `DEPLOY_GATE_LOST_MESSAGE_SECONDS` | 60 | a job whose message no worker has taken this long after it was due (queued, or a deferred run: a wait, a retry) lost it, to a broker restarted empty say: the reconciler sends it again |
| `DEPLOY_GATE_LOG_LEVEL` | `INFO` | the lowest level logged by the API and the workers: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL` |
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config.errors import ConfigError

# The broker queue jobs travel on; the API reports its depth.
TASK_QUEUE = "deploy_gate"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    config_file: Path
    max_bundle_bytes: int = 10 * 1024 * 1024
    long_poll_max_seconds: float = 25.0
    # How long a process may serve a job document it rendered before (0: never). Each entry is also
    # dropped by the job's change notification, so this only bounds a listener that went deaf.
    job_cache_seconds: float = 5.0
    # A task unacknowledged this long is handed to another worker: above the longest step.
    visibility_timeout_seconds: int = 2 * 60 * 60
    log_level: str = "INFO"
    # A request waits this long for a pooled store connection while the store answers (a burst queues
    # for the pool); once connecting has failed, about a second (service.http.store.StorePool).
    store_pool_wait_seconds: float = 15.0
    store_connect_timeout_seconds: int = 2
    # Worker liveness (workers.liveness): a heartbeat this often; older than the stale age, a worker is dead.
    worker_heartbeat_seconds: float = 10.0
    worker_stale_seconds: float = 30.0
    # The beat's reconciler interval: a dead worker's running job resumes within the stale age plus this.
    reconcile_seconds: float = 15.0
    # A job's message not taken this long after it was due is lost (workers.tasks.reconcile sends it again).
    lost_message_seconds: float = 60.0
    # kombu transport options over the ones workers.celery_app sets for the broker's kind.
    broker_transport_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ

        def whole_number(name: str, default: int) -> int:
            try:
                return int(environ.get(name, default))
            except ValueError:
                raise ConfigError(f"{name} must be a whole number") from None

        def seconds(name: str, default: float) -> float:
            try:
                value = float(environ.get(name, default))
            except ValueError:
                raise ConfigError(f"{name} must be a number of seconds") from None
            if not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds")
            return value

        def connect_timeout(name: str, default: int) -> int:
            value = whole_number(name, default)
            if not 2 <= value <= 60:  # libpq takes 1 as 2, and 0 as no timeout at all
                raise ConfigError(f"{name} must be a whole number of seconds from 2 to 60")
            return value

        def log_level(name: str, default: str) -> str:
            value = environ.get(name, default).strip().upper()
            if value not in LOG_LEVELS:
                raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}")
            return value

        heartbeat = seconds("DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS", 10.0)
        stale = seconds("DEPLOY_GATE_WORKER_STALE_SECONDS", 30.0)
        reconcile = seconds("DEPLOY_GATE_RECONCILE_SECONDS", 15.0)
        lost_message = seconds("DEPLOY_GATE_LOST_MESSAGE_SECONDS", 60.0)
        if heartbeat <= 0 or reconcile <= 0 or lost_message <= 0:
            raise ConfigError("DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS, DEPLOY_GATE_RECONCILE_SECONDS and DEPLOY_GATE_LOST_MESSAGE_SECONDS must be above 0")
        if stale <= heartbeat:
            # A worker would look dead between two of its own heartbeats, and its jobs would run twice at once.
            raise ConfigError("DEPLOY_GATE_WORKER_STALE_SECONDS must be above DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS")
        return cls(
            database_url=environ.get("DEPLOY_GATE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/deploy_gate"),
            broker_url=environ.get("DEPLOY_GATE_BROKER_URL") or environ.get("DEPLOY_GATE_REDIS_URL") or "redis://127.0.0.1:6379/0",
            config_file=Path(environ.get("DEPLOY_GATE_CONFIG", "deploy-gate.toml")),
            max_bundle_bytes=whole_number("DEPLOY_GATE_MAX_BUNDLE_BYTES", 10 * 1024 * 1024),
            visibility_timeout_seconds=whole_number("DEPLOY_GATE_VISIBILITY_TIMEOUT", 2 * 60 * 60),
            job_cache_seconds=seconds("DEPLOY_GATE_JOB_CACHE_SECONDS", 5.0),
            log_level=log_level("DEPLOY_GATE_LOG_LEVEL", "INFO"),
            store_pool_wait_seconds=seconds("DEPLOY_GATE_STORE_POOL_WAIT_SECONDS", 15.0),
            store_connect_timeout_seconds=connect_timeout("DEPLOY_GATE_STORE_CONNECT_TIMEOUT_SECONDS", 2),
            worker_heartbeat_seconds=heartbeat,
            worker_stale_seconds=stale,
            reconcile_seconds=reconcile,
            lost_message_seconds=lost_message,
            broker_transport_options=_json_object(environ, "DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS"),
        )


def _json_object(environ: Mapping[str, str], name: str) -> dict[str, Any]:
    """A JSON object from the environment; the error names the variable, never its value (it may hold a password)."""
    try:
        value = json.loads(environ.get(name) or "{}")
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value
