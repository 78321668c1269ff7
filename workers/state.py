"""What a worker process loads once: settings, targets and tokens, and a store connection pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from psycopg_pool import ConnectionPool

from service.config.load import load_config
from service.config.records import Config
from service.config.settings import Settings


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def config() -> Config:
    return load_config(settings().config_file)


@cache
def pool() -> ConnectionPool:
    return ConnectionPool(
        settings().database_url,
        min_size=1,
        max_size=4,
        kwargs={"autocommit": True, "application_name": "deploy-gate-worker"},
        open=True,
    )


@contextmanager
def store() -> Iterator[psycopg.Connection]:
    with pool().connection() as conn:
        yield conn


def reset() -> None:
    """Forget what was loaded (tests point workers at new databases between runs)."""
    if pool.cache_info().currsize:
        pool().close()
    for loaded in (settings, config, pool):
        loaded.cache_clear()
