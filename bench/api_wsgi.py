"""The WSGI entry bench/api.py runs under gunicorn: the service's own app plus three reference routes.

`GET /bench/bare` answers `{"ok": true}` with no auth, store or Redis, so it measures what
gunicorn, Flask and the app's own request hooks (the latency histogram) cost by themselves,
served by the same processes, on the same port, with the same flags as the real endpoints.
`GET /bench/store` adds one round trip to the store (`SELECT 1` on a pooled connection): the
least any endpoint that reads the store can cost. `POST /bench/insert` takes the deploy's JSON body
and stores it as one row (one INSERT, committed) with nothing else: the least a deploy that
stores its job by a statement of its own can cost, since it may not answer 202 before the job is
durable.

    gunicorn "bench.api_wsgi:create_bench_app()"   # from the repository root: gunicorn.conf.py applies
"""

from __future__ import annotations

from flask import Flask, request
from psycopg.types.json import Jsonb

from service.http import create_app
from service.http.store import store

BARE_PATH = "/bench/bare"
STORE_PATH = "/bench/store"
INSERT_PATH = "/bench/insert"


def create_bench_app() -> Flask:
    app = create_app()
    with app.extensions["deploy_gate"].pool.connection() as conn, conn.transaction():
        # Every worker runs this at start; CREATE TABLE IF NOT EXISTS alone races with itself.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('bench_accepted'))")
        conn.execute('CREATE TABLE IF NOT EXISTS "bench_accepted" ("id" UUID PRIMARY KEY DEFAULT gen_random_uuid(), "body" JSONB NOT NULL)')

    def bare():
        return {"ok": True}

    def store_round_trip():
        store().execute("SELECT 1")
        return {"ok": True}

    def insert_one_row():
        store().execute('INSERT INTO "bench_accepted" ("body") VALUES (%s)', (Jsonb(request.get_json()),))
        return {"ok": True}, 202

    app.add_url_rule(BARE_PATH, "bench_bare", bare, methods=["GET"])
    app.add_url_rule(INSERT_PATH, "bench_insert", insert_one_row, methods=["POST"])
    app.add_url_rule(STORE_PATH, "bench_store", store_round_trip, methods=["GET"])
    return app


def create_uncombined_app() -> Flask:
    """The service's app with each deploy's job stored, and its task sent, by its request alone: what
    bench/capacity.py runs with `--uncombined`, to measure what combining concurrent requests buys."""
    app = create_app()
    intake = app.extensions["deploy_gate"].intake

    def alone(new):
        (result,) = intake._store_all([new])
        if isinstance(result, Exception):
            raise result
        return result

    intake._store = alone
    return app
