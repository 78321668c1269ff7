"""The HTTP face: a Flask app factory; each blueprint parses, calls one domain function, serialises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from psycopg_pool import ConnectionPool

from service import json_body
from service.config.load import load_config
from service.config.records import Config
from service.config.settings import Settings
from service.http import console, deploys, health, jobs, problems, recovery, reports, targets, webhooks
from service.http import store as store_module
from service.http.health import Metrics
from service.jobs.cache import JobDocuments
from service.jobs.submit import JobIntake, enqueue_committed
from service.jobs.watch import JobWatcher
from service.store.repository import require_current_store
from workers.broker import Broker
from workers.celery_app import make_celery


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with request bodies parsed only when they nest at most 64 levels (every view's
    `request.get_json`: deeper is a 400 problem, never a RecursionError), and documents kept in the
    order their schemas give."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json_body.loads(s, **kwargs)


@dataclass
class DeployGate:
    """What the views share: settings, targets and tokens, the store pool, the broker, and the
    process's one LISTEN connection that wakes long-polls and keeps its job documents fresh."""

    settings: Settings
    config: Config
    pool: ConnectionPool
    enqueue: Callable[..., None]  # enqueue(*job_ids) once their jobs have committed; never raises
    metrics: Metrics
    watcher: JobWatcher
    intake: JobIntake  # stores and enqueues deploy requests' jobs, concurrent ones together
    broker: Broker  # the Celery client tasks are sent with; readiness and queue depth ask it

    def close(self) -> None:
        self.watcher.close()
        self.pool.close()
        self.broker.close()


def create_app(
    settings: Settings | None = None,
    config: Config | None = None,
    enqueue: Callable[..., None] | None = None,
    test_config: dict[str, Any] | None = None,
) -> Flask:
    settings = settings or Settings.from_env()
    config = config or load_config(settings.config_file)
    app = Flask(__name__, static_folder=None)
    # The migrations bundle is the big part of a request; JSON adds a little around it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_bundle_bytes + 64 * 1024
    app.json = BoundedJSONProvider(app)
    if test_config:
        app.config.update(test_config)

    pool = store_module.open_pool(
        settings.database_url, wait_seconds=settings.store_pool_wait_seconds, connect_timeout_seconds=settings.store_connect_timeout_seconds
    )
    try:
        # The store's migrations are a release step (`deploy-gate migrate-store`), not every worker's.
        with pool.connection() as conn:
            require_current_store(conn)
    except BaseException:
        pool.close()
        raise
    broker = Broker(make_celery(settings, set_as_current=False))
    enqueue = enqueue_committed(enqueue or broker.enqueue)
    documents = JobDocuments(max_age=settings.job_cache_seconds)
    metrics = Metrics(documents)
    # The listener thread starts with the first long-poll, and stops when the pool is closed.
    watcher = JobWatcher(
        lambda: store_module.listen_connection(pool),
        stopped=lambda: pool.closed,
        documents=documents,
        on_parked=metrics.long_polls.inc,
    )
    app.extensions["deploy_gate"] = DeployGate(settings, config, pool, enqueue, metrics, watcher, JobIntake(pool, enqueue), broker)

    problems.init_app(app)
    store_module.init_app(app)
    health.init_app(app)
    for blueprint in (health.bp, deploys.bp, jobs.bp, targets.bp, recovery.bp, reports.bp, webhooks.bp):
        app.register_blueprint(blueprint)
    console.init_app(app, config.console_session_secret)
    return app
