"""The gunicorn entry point: the app from the environment, or one clear line when it is misconfigured."""

from __future__ import annotations

import sys

from flask import Flask

from service.config import ConfigError
from service.http import create_app
from service.store.repository import StoreNotMigrated

# gunicorn stops (instead of restarting workers forever) when a worker exits with this code.
APP_LOAD_ERROR = 4


def application() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        print(f"deploy-gate: configuration error: {error}", file=sys.stderr)
        sys.exit(APP_LOAD_ERROR)
    except StoreNotMigrated as error:
        print(f"deploy-gate: {error}", file=sys.stderr)
        sys.exit(APP_LOAD_ERROR)
