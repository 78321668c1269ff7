"""gunicorn's settings for the API. gunicorn reads ./gunicorn.conf.py by itself, so `make run`, the
Procfile, docker-compose.yml and bench/api.py all serve with these; flags given on the command
line win over them.

gevent workers: a parked long-poll (`GET /v1/jobs/{id}?wait=N`) costs a greenlet, not a thread, so
hundreds of them leave a process free to answer everything else, `/healthz` included. psycopg
(3.1.14 and later), its pool and redis-py cooperate with gevent's patched sockets and threads.

Logging: gunicorn applies the service's one logging configuration (service.log_config), so its own
lines and the access log (one JSON object per request, from the request's fields rather than
`access_log_format`) come out like every other line of the API and the workers.
"""

import os
import sys
import threading
import time

from service.config.errors import ConfigError
from service.config.settings import Settings
from service.log_config import logging_config

try:
    settings = Settings.from_env()
except ConfigError as error:
    sys.exit(f"deploy-gate: configuration error: {error}")

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
