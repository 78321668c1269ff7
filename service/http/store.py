"""The store's connection pool, and one pooled connection per request on `g`."""

from __future__ import annotations

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool:
    return ConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "application_name": "deploy-gate-api"},
        open=True,
    )


def store() -> psycopg.Connection:
    """This request's store connection, taken from the pool on first use."""
    if "store_conn" not in g:
        pool = current_app.extensions["deploy_gate"].pool
        g.store_context = pool.connection()
        g.store_conn = g.store_context.__enter__()
    return g.store_conn


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _give_back(error: BaseException | None) -> None:
        context = g.pop("store_context", None)
        g.pop("store_conn", None)
        if context is not None:
            context.__exit__(None, None, None)
