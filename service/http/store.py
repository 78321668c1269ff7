"""The store's connection pool, and one pooled connection per request on `g`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg
from flask import Flask, g
from psycopg_pool import ConnectionPool

from service.http.extension import deploy_gate

T = TypeVar("T")


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool:
    return ConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "application_name": "deploy-gate-api"},
        open=True,
    )


# The LISTEN connection is idle for long stretches: TCP keepalives let the listener notice a peer
# that vanished without a word (its cached job documents are only good while it listens).
_LISTEN_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def listen_connection(pool: ConnectionPool) -> psycopg.Connection:
    """A connection of its own (not the pool's) for the process's LISTEN thread, like the pool's."""
    conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
    kwargs = (pool.kwargs() if callable(pool.kwargs) else pool.kwargs) or {}
    return psycopg.connect(conninfo, **{**kwargs, **_LISTEN_KEEPALIVES, "application_name": "deploy-gate-api-listen"})


def store() -> psycopg.Connection:
    """This request's store connection, taken from the pool on first use."""
    if "store_conn" not in g:
        g.store_context = deploy_gate().pool.connection()
        g.store_conn = g.store_context.__enter__()
    conn: psycopg.Connection = g.store_conn
    return conn


def give_back() -> None:
    """Return this request's connection to the pool now, before a long wait (`store()` takes another)."""
    context = g.pop("store_context", None)
    g.pop("store_conn", None)
    if context is not None:
        context.__exit__(None, None, None)


def briefly(pool: ConnectionPool, read: Callable[[psycopg.Connection], T]) -> Callable[[], T]:
    """`read` as a call that takes a pooled connection for its own duration only."""

    def call() -> T:
        with pool.connection() as conn:
            return read(conn)

    return call


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _give_back(error: BaseException | None) -> None:
        give_back()
