from service.backoff import backoff_seconds


def test_full_jitter_up_to_a_doubling_ceiling_in_milliseconds():
    for attempt, ceiling in [(0, 0.25), (1, 0.5), (2, 1.0), (5, 3.0)]:
        waits = [backoff_seconds(attempt, first=0.25, maximum=3.0) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        # Spread over the range, to the millisecond: workers retrying together do not stay together.
        assert len(set(waits)) > 50 and max(waits) > ceiling / 2


def test_a_floor_keeps_every_wait_at_least_that_long():
    waits = [backoff_seconds(2, first=0.25, maximum=3.0, floor=0.25) for _ in range(200)]
    assert all(0.25 <= wait <= 1.0 for wait in waits) and len(set(waits)) > 50
