"""The store's connection pool, and one pooled connection per request on `g`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from flask import Flask, g
from psycopg_pool import ConnectionPool, PoolTimeout

from service.config.settings import Settings
from service.http.extension import deploy_gate

T = TypeVar("T")


# Once connecting to the store has failed (and not succeeded since), a request waits no longer
# than this for a connection: a store that is down is answered 503 at once, not after the pool wait.
UNREACHABLE_WAIT_SECONDS = 1.0


class StorePool(ConnectionPool):
    """The store's pool. A request waits up to `timeout` (the pool wait setting) for a connection
    while the store answers: a burst of requests queues for the pool's connections. Once a connection
    attempt has failed since the last one that succeeded, the store is taken to be unreachable and a
    request waits UNREACHABLE_WAIT_SECONDS at most (long enough for a pooled connection to come back,
    and each wait asks the pool to try connecting again), then gets PoolTimeout: a 503."""

    def __init__(self, conninfo: str, *, wait_seconds: float, connect_timeout_seconds: int, **kwargs: Any) -> None:
        self._errors_when_last_connected = 0
        super().__init__(
            conninfo,
            timeout=wait_seconds,
            configure=self._connected,
            kwargs={"autocommit": True, "application_name": "deploy-gate-api", "connect_timeout": connect_timeout_seconds},
            **kwargs,
        )

    def _connected(self, conn: psycopg.Connection) -> None:
        self._errors_when_last_connected = self._connection_errors()

    def _connection_errors(self) -> int:
        # get_stats, never pop_stats: the count must only grow.
        return self.get_stats().get("connections_errors", 0)

    @property
    def unreachable(self) -> bool:
        """Has an attempt to connect failed since the last one that succeeded?"""
        return self._connection_errors() > self._errors_when_last_connected

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        budget = self.timeout if timeout is None else timeout
        first = min(budget, UNREACHABLE_WAIT_SECONDS)
        try:
            return super().getconn(first)
        except PoolTimeout:
            # Only after a first short wait, so a failure found meanwhile still ends this request's wait.
            if self.unreachable or budget <= first:
                raise
        return super().getconn(budget - first)


def open_pool(
    database_url: str,
    *,
    wait_seconds: float = Settings.store_pool_wait_seconds,
    connect_timeout_seconds: int = Settings.store_connect_timeout_seconds,
    min_size: int = 1,
    max_size: int = 10,
) -> StorePool:
    return StorePool(
        database_url,
        wait_seconds=wait_seconds,
        connect_timeout_seconds=connect_timeout_seconds,
        min_size=min_size,
        max_size=max_size,
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


def store(wait: float | None = None) -> psycopg.Connection:
    """This request's store connection, taken from the pool on first use (waiting `wait` seconds at
    most for it, the pool's wait by default)."""
    if "store_conn" not in g:
        g.store_context = deploy_gate().pool.connection(timeout=wait)
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
