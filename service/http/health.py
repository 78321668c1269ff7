"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from service.http.auth import require_scope
from service.http.extension import deploy_gate
from service.http.problems import problem_response
from service.http.store import store
from service.jobs.cache import JobDocuments
from service.store import repository

bp = Blueprint("health", __name__)

# A readiness probe gives up after a second or so: a process whose store connections are all busy
# this long, or whose store is unreachable, says so (503) rather than leaving the probe to time out.
READINESS_STORE_WAIT_SECONDS = 0.5


class Metrics:
    """The service's metrics, in a registry of its own so several apps can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram("deploy_gate_http_request_seconds", "HTTP request latency", ["method", "endpoint", "status"], registry=self.registry)
        self.jobs = Gauge("deploy_gate_jobs", "Jobs by kind, state and verdict", ["kind", "state", "verdict"], registry=self.registry)
        self.queue_depth = Gauge("deploy_gate_queue_depth", "Tasks waiting in the broker", registry=self.registry)
        self.step_seconds = Gauge("deploy_gate_step_seconds_avg", "Average duration of finished job steps over the last day", ["step"], registry=self.registry)
        self.long_polls = Gauge("deploy_gate_long_polls_parked", "Long-polls waiting in this process", registry=self.registry)

    def watch_job_documents(self, documents: JobDocuments) -> None:
        self.registry.register(_JobDocumentsCollector(documents))


class _JobDocumentsCollector:
    """How this process answered job reads: from its own copy of the document, or from the store."""

    def __init__(self, documents: JobDocuments) -> None:
        self.documents = documents

    def collect(self) -> Iterator[Metric]:
        reads = CounterMetricFamily("deploy_gate_job_reads", "Job reads in this process by where the document came from", labels=["source"])
        reads.add_metric(["copy"], self.documents.hits)
        reads.add_metric(["store"], self.documents.misses)
        yield reads
        yield GaugeMetricFamily("deploy_gate_job_copies", "Job documents this process holds", value=len(self.documents))


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks: dict[str, str] = {}
    try:
        repository.check_store_answers(store(wait=READINESS_STORE_WAIT_SECONDS))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the kind is reported
        checks["database"] = type(error).__name__
    try:
        deploy_gate().broker.waiting()  # a round trip through kombu, whichever the broker
        checks["broker"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["broker"] = type(error).__name__
    if all(value == "ok" for value in checks.values()):
        return {"status": "ready", "checks": checks}
    return problem_response(503, "Not ready", "A dependency is unreachable.", checks=checks)


@bp.get("/metrics")
@require_scope("read")
def metrics() -> ResponseReturnValue:
    extension = deploy_gate()
    collected = extension.metrics
    collected.jobs.clear()
    for kind, state, verdict, count in repository.count_jobs(store()):
        collected.jobs.labels(kind, state, verdict or "none").set(count)
    for step, seconds in repository.step_durations(store()):
        collected.step_seconds.labels(step).set(seconds)
    collected.long_polls.set(extension.watcher.parked())
    with contextlib.suppress(Exception):  # a broker that does not answer leaves the last depth; /readyz says why
        collected.queue_depth.set(extension.broker.waiting())
    return Response(generate_latest(collected.registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            deploy_gate().metrics.http_latency.labels(request.method, request.url_rule.rule if request.url_rule else "unmatched", response.status_code).observe(
                time.perf_counter() - started
            )
        return response
