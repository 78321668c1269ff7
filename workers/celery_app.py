"""The Celery app, for the workers and for the web process that sends them tasks. Settings that
keep a job safe across worker deaths live here.

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only after its task
  returns, so a worker killed mid-job leaves the message to be delivered again.
- prefetch 1: a worker holds one job at a time, so a slow deploy does not strand others.
- The broker is any kombu URL (`DEPLOY_GATE_BROKER_URL`). On Redis and SQS a message
  unacknowledged for longer than the visibility timeout is handed to another worker, so it is
  above the longest step (a lock wait plus a migration); RabbitMQ hands it on when the worker's
  connection drops.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from celery import Celery, signals

from service.config.settings import TASK_QUEUE, Settings
from service.log_config import configure_logging

# The kombu transports whose unacknowledged messages wait out a visibility timeout.
_REDIS_SCHEMES = {"redis", "rediss", "sentinel", "socket", "redis+socket"}
_SQS_SCHEMES = {"sqs", "https+sqs"}  # kombu's sqs:// (SQS has its own visibility timeout)


def transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's transport options for the broker's kind, with the settings' own over them."""
    scheme = urlsplit(settings.broker_url.split(";", 1)[0]).scheme  # failover URLs share one kind
    timeout = settings.visibility_timeout_seconds
    options: dict[str, Any] = {}
    if scheme in _REDIS_SCHEMES:
        options = {
            "visibility_timeout": timeout,
            # Sweep for messages whose worker died every half timeout (at most a minute),
            # instead of kombu's default of every 100 s whatever the timeout.
            "unacked_restore_interval": max(1, min(60, timeout // 2)),
            "unacked_restore_throttle": 1,
        }
    elif scheme in _SQS_SCHEMES:
        options = {"visibility_timeout": timeout}
    return {**options, **settings.broker_transport_options}


def make_celery(settings: Settings | None = None, *, set_as_current: bool = True) -> Celery:
    """The app on the settings' broker. The web process makes one of its own (not the current app)
    to send tasks with; it imports no task code (`include` is read by workers only)."""
    settings = settings or Settings.from_env()
    app = Celery(
        "deploy_gate",
        broker=settings.broker_url,
        include=["workers.tasks", "workers.notifications", "workers.integrations"],
        set_as_current=set_as_current,
    )
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=TASK_QUEUE,
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        # Celery configures no logging while setup_logging has a receiver (below); without one it would still leave the root's handlers alone.
        worker_hijack_root_logger=False,
        beat_schedule={
            # A dead worker's running job resumes within the worker stale age plus this interval.
            "reconcile-jobs": {"task": "deploy_gate.reconcile", "schedule": settings.reconcile_seconds},
            # Vercel checks kept fresh and completed, GitHub protection rules answered (workers.integrations).
            "sync-integration-reports": {"task": "deploy_gate.sync_integration_reports", "schedule": 15.0},
            # Old finished jobs, delivery ids and unused bundles deleted in short batches (service.retention).
            "prune-store": {"task": "deploy_gate.prune_store", "schedule": 3600.0},
            # Drift jobs for the targets whose [targets.NAME.drift] schedule_minutes is due (service.jobs.drift).
            "schedule-drift-checks": {"task": "deploy_gate.schedule_drift_checks", "schedule": 60.0},
        },
    )
    return app


@signals.setup_logging.connect
def use_the_service_logging(**_: Any) -> None:
    """The worker logs as the API does (service.log_config): a receiver here stops Celery installing its
    own handlers. DEPLOY_GATE_LOG_LEVEL sets the level; the worker's --loglevel is not used."""
    configure_logging(Settings.from_env().log_level)


celery = make_celery()
