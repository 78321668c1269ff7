"""One backoff for the project: Celery's exponential backoff with full jitter, in seconds."""

from __future__ import annotations


def backoff_seconds(attempt: int, first: float, maximum: float, *, floor: float = 0.0) -> float:
    """The wait before try `attempt + 1` (attempt 0: the first wait): random, from `floor` up to
    min(maximum, first * 2**attempt), so callers retrying together spread out. A caller asking a
    server again that just failed passes `floor=first`: never again at once.
    """
    # Imported here: it costs a fifth of a second, which the command line's lint should not pay.
    from celery.utils.time import get_exponential_backoff_interval

    # Celery counts whole units; milliseconds keep the sub-second waits of short bounds and tests.
    milliseconds = get_exponential_backoff_interval(factor=round(first * 1000), retries=attempt, maximum=round(maximum * 1000), full_jitter=True)
    return max(floor, milliseconds / 1000)
