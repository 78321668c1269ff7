"""gunicorn's settings for the API. gunicorn reads ./gunicorn.conf.py by itself, so `make run`, the
Procfile, docker-compose.yml and bench/api.py all serve with these; flags given on the command
line win over them.

gevent workers: a parked long-poll (`GET /v1/jobs/{id}?wait=N`) costs a greenlet, not a thread, so
hundreds of them leave a process free to answer everything else, `/healthz` included. psycopg
(3.1.14 and later), its pool and redis-py cooperate with gevent's patched sockets and threads.

Metrics: prometheus_client's multiprocess mode, so a scrape answered by any worker counts every
worker's requests, and a counter never goes back when the scrape lands on another one. Each worker
writes its values to files in `PROMETHEUS_MULTIPROC_DIR`: a directory of this server's own unless
the launcher names one (a tmpfs, say), emptied when the server starts and, if it is ours, removed
when it stops. A worker's file of gauges it alone knows (parked long-polls) is dropped when it exits.

Logging: gunicorn applies the service's one logging configuration (service.log_config), so its own
lines and the access log (one JSON object per request, from the request's fields rather than
`access_log_format`) come out like every other line of the API and the workers.
"""

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from service.config.errors import ConfigError
from service.config.settings import Settings
from service.log_config import logging_config

try:
    settings = Settings.from_env()
except ConfigError as error:
    sys.exit(f"deploy-gate: configuration error: {error}")

# Set before any worker imports prometheus_client, which picks its mode once, at import.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="deploy-gate-metrics-")

worker_class = "gevent"
# One gevent worker per core of a 2-core machine; gunicorn's own WEB_CONCURRENCY variable sets it elsewhere.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Concurrent connections per worker (each one a greenlet): active requests and parked long-polls.
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "1000"))
timeout = 60
# A listening socket per worker: the kernel spreads new connections over the workers.
reuse_port = True
# Also turns the access log on (to the root logger's JSON handler): no `accesslog` needed.
logconfig_dict = logging_config(settings.log_level)


def post_worker_init(worker):
    """A worker told to stop ends its console event streams within a second: left open, they would
    hold it for the whole graceful timeout (browsers reconnect to another worker). gunicorn has no
    hook for a graceful stop, so one greenlet per worker watches `worker.alive` as gunicorn's own loop does."""
    extension = worker.wsgi.extensions.get("deploy_gate")
    if extension is not None:
        threading.Thread(target=_end_streams_once_stopping, args=(worker, extension.watcher), name="deploy-gate-drain", daemon=True).start()


def _end_streams_once_stopping(worker, watcher):
    while worker.alive:
        time.sleep(1.0)
    watcher.drain()


def on_starting(server):
    """Counts left by an earlier server would be added to this one's."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A dead worker's live gauges are gone with it; its counters and latencies still count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
