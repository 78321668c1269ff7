"""The gunicorn entry point: the app from the environment, or one clear log line when it is misconfigured.

Logging is configured by gunicorn (gunicorn.conf.py's `logconfig_dict`) before the app loads.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

from service.config.errors import ConfigError
from service.http import create_app
from service.store.repository import StoreNotMigrated

# gunicorn stops (instead of restarting workers forever) when a worker exits with this code.
APP_LOAD_ERROR = 4

log = logging.getLogger(__name__)


def application() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        log.critical("deploy-gate: configuration error: %s", error)
        sys.exit(APP_LOAD_ERROR)
    except StoreNotMigrated as error:
        log.critical("deploy-gate: %s", error)
        sys.exit(APP_LOAD_ERROR)
