"""The WSGI entry bench/api.py runs under gunicorn: the service's own app plus two reference routes.

`GET /bench/bare` answers `{"ok": true}` with no auth, store or Redis, so it measures what
gunicorn, Flask and the app's own request hooks (the latency histogram) cost by themselves,
served by the same processes, on the same port, with the same flags as the real endpoints.
`GET /bench/store` adds one round trip to the store (`SELECT 1` on a pooled connection): the
least any endpoint that reads the store can cost.

    gunicorn "bench.api_wsgi:create_bench_app()" --worker-class gthread --workers 2 --threads 8
"""

from __future__ import annotations

from flask import Flask

from service.http import create_app
from service.http.store import store

BARE_PATH = "/bench/bare"
STORE_PATH = "/bench/store"


def create_bench_app() -> Flask:
    app = create_app()

    def bare():
        return {"ok": True}

    def store_round_trip():
        store().execute("SELECT 1")
        return {"ok": True}

    app.add_url_rule(BARE_PATH, "bench_bare", bare, methods=["GET"])
    app.add_url_rule(STORE_PATH, "bench_store", store_round_trip, methods=["GET"])
    return app
