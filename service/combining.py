"""Run the items of concurrent callers together, the way a database groups commits.

A caller that finds nothing running runs a batch: every item waiting, its own first, in one call
of `run`. Callers that arrive meanwhile wait; when the batch is done, the first of them runs the
next one. Alone, a caller runs its item at once; under load, one round trip serves many. Each
caller gets its own result, or the exception its item (or the whole batch) raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T, R]):
    __slots__ = ("item", "ready", "leads", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.ready = threading.Event()
        self.leads = False
        self.result: R | None = None  # set, with error None, once its batch ran
        self.error: BaseException | None = None


class Combiner(Generic[T, R]):
    """`combiner(item)` returns `run([..., item, ...])`'s result for that item.

    `run` takes the items of one batch and returns a result for each, in order; a result that is
    an exception is raised to that item's caller alone. An exception `run` raises goes to every
    caller in the batch.
    """

    def __init__(self, run: Callable[[Sequence[T]], Sequence[R | BaseException]], max_batch: int = 100) -> None:
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Waiting[T, R]] = []
        self._busy = False

    def __call__(self, item: T) -> R:
        mine: _Waiting[T, R] = _Waiting(item)
        with self._lock:
            self._waiting.append(mine)
            mine.leads = not self._busy
            self._busy = True
        if not mine.leads:
            mine.ready.wait()
        if mine.leads:  # set before the wait ended, when a batch handed over to this caller
            self._run_batch()
        if mine.error is not None:
            raise mine.error
        # Without an error, its batch set the result (which may be None itself, as R allows).
        return cast(R, mine.result)

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
        try:
            results = self._run([waiting.item for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items came back with {len(results)} results")
            for waiting, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    waiting.error = result
                else:
                    waiting.result = result
        except BaseException as error:  # noqa: BLE001 - every caller of the batch hears of it
            for waiting in batch:
                waiting.error = error
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                if successor is None:
                    self._busy = False
                else:
                    successor.leads = True
            for waiting in batch:
                waiting.ready.set()
            if successor is not None:
                successor.ready.set()
