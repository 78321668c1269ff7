"""Concurrent callers' items run together, each caller getting its own result."""

import threading

import pytest

from service.combining import Combiner


class Recorder:
    """A batch function that records its batches and can be held until released."""

    def __init__(self, fail_on=None, fail_all=False) -> None:
        self.batches: list[list] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_on, self.fail_all = fail_on, fail_all

    def __call__(self, items):
        self.batches.append(list(items))
        self.entered.set()
        self.release.wait(10)
        if self.fail_all:
            raise ConnectionError("the broker went away")
        return [ValueError(f"bad {item}") if item == self.fail_on else item * 10 for item in items]


def call_in_threads(combiner, items):
    results, errors = {}, {}

    def call(item):
        try:
            results[item] = combiner(item)
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            errors[item] = error

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, results, errors


def hold_first_batch(recorder, combiner):
    """Start one call and keep its batch running until `recorder.release` is set."""
    recorder.release.clear()
    threads, results, errors = call_in_threads(combiner, [0])
    assert recorder.entered.wait(10)
    return threads, results, errors


def waiting(combiner):
    with combiner._lock:
        return len(combiner._waiting)


def test_a_lone_call_runs_at_once_in_a_batch_of_its_own():
    recorder = Recorder()
    combiner = Combiner(recorder)
    assert combiner(1) == 10
    assert combiner(2) == 20
    assert recorder.batches == [[1], [2]]


def test_calls_that_arrive_while_a_batch_runs_go_together_in_the_next():
    recorder = Recorder()
    combiner = Combiner(recorder)
    first, results, _ = hold_first_batch(recorder, combiner)
    later, later_results, later_errors = call_in_threads(combiner, range(1, 6))
    while waiting(combiner) < 5:
        threading.Event().wait(0.01)
    recorder.release.set()
    for thread in first + later:
        thread.join(10)
    assert results == {0: 0}
    assert later_results == {item: item * 10 for item in range(1, 6)} and later_errors == {}
    assert recorder.batches[0] == [0] and sorted(recorder.batches[1]) == [1, 2, 3, 4, 5]


def test_an_item_that_fails_fails_its_own_caller_only():
    recorder = Recorder(fail_on=3)
    combiner = Combiner(recorder)
    first, _, _ = hold_first_batch(recorder, combiner)
    later, results, errors = call_in_threads(combiner, [2, 3, 4])
    while waiting(combiner) < 3:
        threading.Event().wait(0.01)
    recorder.release.set()
    for thread in first + later:
        thread.join(10)
    assert results == {2: 20, 4: 40}
    assert list(errors) == [3] and str(errors[3]) == "bad 3"


def test_a_batch_that_fails_fails_every_caller_in_it_and_the_next_call_still_runs():
    recorder = Recorder(fail_all=True)
    combiner = Combiner(recorder)
    threads, results, errors = call_in_threads(combiner, [1, 2, 3])
    for thread in threads:
        thread.join(10)
    assert results == {} and set(errors) == {1, 2, 3}
    assert all(isinstance(error, ConnectionError) for error in errors.values())
    recorder.fail_all = False
    assert combiner(4) == 40


def test_batches_are_capped():
    recorder = Recorder()
    combiner = Combiner(recorder, max_batch=2)
    first, _, _ = hold_first_batch(recorder, combiner)
    later, results, _ = call_in_threads(combiner, [1, 2, 3, 4, 5])
    while waiting(combiner) < 5:
        threading.Event().wait(0.01)
    recorder.release.set()
    for thread in first + later:
        thread.join(10)
    assert results == {item: item * 10 for item in range(1, 6)}
    assert [len(batch) for batch in recorder.batches] == [1, 2, 2, 1]


def test_a_batch_function_that_loses_results_is_an_error_for_all():
    combiner = Combiner(lambda items: items[1:])
    with pytest.raises(RuntimeError, match="1 items came back with 0 results"):
        combiner("x")
