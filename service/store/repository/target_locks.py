"""The store-wide lock that serialises the jobs writing to one target, across every worker on every machine."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

TARGET_LOCK_NAMESPACE = 0x4447  # "DG": the first key of our two-key advisory locks


def target_lock_key(target: str) -> int:
    return zlib.crc32(target.encode()) & 0x7FFFFFFF


@contextmanager
def target_lock(store: psycopg.Connection, target: str) -> Iterator[None]:
    """Hold the target's session-level advisory lock on the store connection, waiting for it if need be."""
    key = target_lock_key(target)
    store.execute("SELECT pg_advisory_lock(%s, %s)", (TARGET_LOCK_NAMESPACE, key))
    try:
        yield
    finally:
        # A closed or broken connection has already released its session's locks.
        if not store.closed and not store.broken:
            store.execute("SELECT pg_advisory_unlock(%s, %s)", (TARGET_LOCK_NAMESPACE, key))
