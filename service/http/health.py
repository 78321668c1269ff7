"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from service.http.auth import require_scope
from service.http.extension import deploy_gate
from service.http.problems import problem_response
from service.http.store import store
from service.jobs.cache import JobDocuments
from service.store import repository

if TYPE_CHECKING:
    from service.http import DeployGate

bp = Blueprint("health", __name__)

# A readiness probe gives up after a second or so: a process whose store connections are all busy
# this long, or whose store is unreachable, says so (503) rather than leaving the probe to time out.
READINESS_STORE_WAIT_SECONDS = 0.5


class Metrics:
    """The service's metrics. What each process counts (requests, parked long-polls, job reads) is
    kept in a registry of its own, so several apps can live in one process; under gunicorn, with
    `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py), prometheus_client keeps it in files that
    every worker's scrape adds up. What the store or the broker knows is read at each scrape
    (`exposition`), so every worker answers the same."""

    def __init__(self, documents: JobDocuments | None = None) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram("deploy_gate_http_request_seconds", "HTTP request latency", ["method", "endpoint", "status"], registry=self.registry)
        # livesum: the processes alive now, added up (a dead worker's parked polls are gone with it).
        self.long_polls = Gauge("deploy_gate_long_polls_parked", "Long-polls waiting", registry=self.registry, multiprocess_mode="livesum")
        self.job_reads = Counter("deploy_gate_job_reads", "Job reads by where the document came from", ["source"], registry=self.registry)
        for source in ("copy", "store"):
            self.job_reads.labels(source)
        self.job_copies = Gauge("deploy_gate_job_copies", "Job documents the processes hold", registry=self.registry, multiprocess_mode="livesum")
        self._documents = documents
        self._counted = (0, 0)  # the documents' hits and misses already added to job_reads

    def count_job_reads(self) -> None:
        """Carry this process's job-document counts over to the metrics (after each request)."""
        documents = self._documents
        if documents is None:
            return
        hits, misses = documents.hits, documents.misses
        counted_hits, counted_misses = self._counted
        self._counted = (hits, misses)
        if hits > counted_hits:
            self.job_reads.labels("copy").inc(hits - counted_hits)
        if misses > counted_misses:
            self.job_reads.labels("store").inc(misses - counted_misses)
        self.job_copies.set(len(documents))

    def exposition(self, scraped: Iterable[Metric]) -> bytes:
        """Every process's metrics (this one's alone outside multiprocess mode), then `scraped`."""
        processes: Collector = self.registry if values.ValueClass is values.MutexValue else MultiProcessCollector(None)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        return generate_latest(_Collected([*processes.collect(), *scraped]))


class _Collected:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _from_the_store_and_the_broker(extension: DeployGate) -> Iterator[Metric]:
    """The metrics read at each scrape: the same whichever process answers it."""
    jobs = GaugeMetricFamily("deploy_gate_jobs", "Jobs by kind, state and verdict", labels=["kind", "state", "verdict"])
    for kind, state, verdict, count in repository.count_jobs(store()):
        jobs.add_metric([kind, state, verdict or "none"], count)
    yield jobs
    steps = GaugeMetricFamily("deploy_gate_step_seconds_avg", "Average duration of finished job steps over the last day", labels=["step"])
    for step, seconds in repository.step_durations(store()):
        steps.add_metric([step], seconds)
    yield steps
    waits = repository.job_waits(store())
    yield _gauge(
        "deploy_gate_oldest_queued_job_seconds", "How long the oldest queued job has waited for a worker (0: none queued)", waits.oldest_queued_seconds
    )
    yield _gauge(
        "deploy_gate_oldest_approval_wait_seconds",
        "How long the oldest job waiting for approval has waited (0: none waits)",
        waits.oldest_waiting_approval_seconds,
    )
    yield _gauge("deploy_gate_jobs_blocked_unreachable", "Jobs in the store that ended blocked because their target was unreachable", waits.blocked_unreachable)
    yield _gauge(
        "deploy_gate_workers_alive",
        "Workers whose heartbeat is fresh",
        repository.live_workers(store(), fresh_within_seconds=extension.settings.worker_stale_seconds),
    )
    with contextlib.suppress(Exception):  # a broker that does not answer has no depth to report; /readyz says why
        yield _gauge("deploy_gate_queue_depth", "Tasks waiting in the broker", extension.broker.waiting())


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks: dict[str, str] = {}
    try:
        repository.check_store_answers(store(wait=READINESS_STORE_WAIT_SECONDS))
        checks["database"] = "ok"
        # Jobs wait in the queue for nobody without a worker: not ready, though every dependency answers.
        alive = repository.live_workers(store(), fresh_within_seconds=deploy_gate().settings.worker_stale_seconds)
        checks["workers"] = "ok" if alive else "none alive"
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the kind is reported
        checks["database"] = checks["workers"] = type(error).__name__
    try:
        deploy_gate().broker.waiting()  # a round trip through kombu, whichever the broker
        checks["broker"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["broker"] = type(error).__name__
    if all(value == "ok" for value in checks.values()):
        return {"status": "ready", "checks": checks}
    only_workers = all(value == "ok" for name, value in checks.items() if name != "workers")
    detail = "No worker has recorded a heartbeat recently: queued jobs wait." if only_workers else "A dependency is unreachable."
    return problem_response(503, "Not ready", detail, checks=checks)


@bp.get("/metrics")
@require_scope("read")
def metrics() -> ResponseReturnValue:
    extension = deploy_gate()
    return Response(extension.metrics.exposition(list(_from_the_store_and_the_broker(extension))), mimetype=CONTENT_TYPE_LATEST)


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
        deploy_gate().metrics.count_job_reads()
        return response
