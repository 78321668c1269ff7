"""The Celery app. Settings that keep a job safe across worker deaths live here.

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only after its task
  returns, so a worker killed mid-job leaves the message to be delivered again.
- prefetch 1: a worker holds one job at a time, so a slow deploy does not strand others.
- Redis's visibility timeout is above the longest step (a lock wait plus a migration): a message
  unacknowledged for longer is handed to another worker.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from service.config import TASK_QUEUE, Settings
from service.log_config import configure_logging


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    app = Celery("deploy_gate", broker=settings.redis_url, include=["workers.tasks", "workers.notifications", "workers.integrations"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=TASK_QUEUE,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            # Sweep for messages whose worker died every half timeout (at most a minute),
            # instead of kombu's default of every 100 s whatever the timeout.
            "unacked_restore_interval": max(1, min(60, settings.visibility_timeout_seconds // 2)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        # Celery configures no logging while setup_logging has a receiver (below); without one it would still leave the root's handlers alone.
        worker_hijack_root_logger=False,
        beat_schedule={
            "reconcile-jobs": {"task": "deploy_gate.reconcile", "schedule": 30.0},
            # Vercel checks kept fresh and completed, GitHub protection rules answered (workers.integrations).
            "sync-integration-reports": {"task": "deploy_gate.sync_integration_reports", "schedule": 15.0},
        },
    )
    return app


@signals.setup_logging.connect
def use_the_service_logging(**_: Any) -> None:
    """The worker logs as the API does (service.log_config): a receiver here stops Celery installing its
    own handlers. DEPLOY_GATE_LOG_LEVEL sets the level; the worker's --loglevel is not used."""
    configure_logging(Settings.from_env().log_level)


celery = make_celery()
