"""The fault suite (marker `faults`): each test kills or stops something a deploy depends on and
checks what a person sees and what happens to the job.

Servers a fault stops are the test's own (tests.faults.servers): the shared PostgreSQL and Redis
are never stopped. Workers are real processes (tests.workers.processes) on a Redis broker.
Intervals and timeouts are short, from the settings' environment variables, so what takes
minutes by default takes seconds here.
"""

import os
import signal
import threading
from collections.abc import Callable, Iterator
from subprocess import Popen

import pytest
import redis

from service.config.settings import Settings
from service.http import create_app
from tests.broker import sending_through
from tests.contract import ContractClient
from tests.workers.conftest import (  # noqa: F401  the workers' fixtures: the environment a worker and the API read
    api,
    celery_config,
    celery_includes,
    celery_worker_parameters,
    celery_worker_pool,
    service_env,
)
from tests.workers.processes import start_worker, stop
from workers.celery_app import make_celery

# Heartbeats every second, a worker dead after 3 s, the reconciler every second, a message 2 s
# overdue taken for lost; a visibility timeout of an hour, so that only the reconciler sends a lost
# or a dead worker's message again (what takes 30 s to 15 minutes by default).
SHORT_INTERVALS = {
    "DEPLOY_GATE_WORKER_HEARTBEAT_SECONDS": "1",
    "DEPLOY_GATE_WORKER_STALE_SECONDS": "3",
    "DEPLOY_GATE_RECONCILE_SECONDS": "1",
    "DEPLOY_GATE_LOST_MESSAGE_SECONDS": "2",
    "DEPLOY_GATE_VISIBILITY_TIMEOUT": "3600",
}


@pytest.fixture
def broker_url(service_env) -> str:
    """The broker of the test's API and workers: the test run's Redis database (a module may bring its own server)."""
    return os.environ["DEPLOY_GATE_BROKER_URL"]


@pytest.fixture
def gate(service_env, broker_url, monkeypatch) -> Iterator:
    """The API's test client, sending jobs as the app does (queue deploy_gate) to `broker_url`,
    which the workers read too; short intervals; the broker emptied before and after."""
    for name, value in SHORT_INTERVALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEPLOY_GATE_BROKER_URL", broker_url)
    flush = redis.Redis.from_url(broker_url)
    flush.flushdb()
    producer = make_celery(Settings.from_env(), set_as_current=False)
    app = create_app(Settings.from_env(), enqueue=sending_through(producer))
    app.test_client_class = ContractClient
    yield app.test_client()
    app.extensions["deploy_gate"].close()
    producer.close()
    try:
        flush.flushdb()
    except redis.ConnectionError:
        pass  # a broker the test left down holds nothing
    flush.close()


class Supervised:
    """A worker process started again whenever it exits, as docker-compose.yml's `restart: unless-stopped`
    does: kombu's Redis transport can end a worker that holds a message when the broker's connection drops."""

    def __init__(self, start: Callable[[], Popen]) -> None:
        self._start = start
        self.process = start()
        self.restarts = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopped.wait(0.2):
            if self.process.poll() is not None:
                self.restarts += 1
                self.process = self._start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        stop(self.process)


@pytest.fixture
def workers(gate, tmp_path) -> Iterator[Callable[..., Popen | Supervised]]:
    """Start a worker process (`beat=True`: with the beat, so the reconciler runs; `supervised=True`:
    started again if it exits), its log in tmp_path; each is stopped after the test (SIGTERM)."""
    started: list[Popen | Supervised] = []
    logs = iter(range(1, 100))

    def start_one(beat: bool) -> Popen:
        flags = ("--beat", f"--schedule={tmp_path / 'beat-schedule'}") if beat else ()
        with (tmp_path / f"worker-{next(logs)}.log").open("wb") as log:
            return start_worker(*flags, stderr=log)

    def start(*, beat: bool = False, supervised: bool = False) -> Popen | Supervised:
        worker: Popen | Supervised = Supervised(lambda: start_one(beat)) if supervised else start_one(beat)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if isinstance(worker, Supervised):
            worker.stop()
        else:
            stop(worker, signal.SIGTERM)
