"""The collector set-up of the commands that run the core at length (streams.heap)."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator

import pytest

from streams.heap import YOUNG_THRESHOLD, PauseWatch, quiet_collector


@pytest.fixture
def collector() -> Iterator[None]:
    """Give the test process back the collector it had."""
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("collector")
def test_startup_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    middle, old = gc.get_threshold()[1:]
    loaded = [{"catalog": n} for n in range(1_000)]  # stands for what startup loaded
    quiet_collector()
    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)


@pytest.mark.usefixtures("collector")
def test_cycles_made_after_it_are_still_collected_on_its_own() -> None:
    quiet_collector(young=100)

    class Node:
        other: object = None

    def pair() -> Node:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        return a

    first = weakref.ref(pair())
    assert first() is not None
    for _ in range(1_000):  # allocations past the young threshold, no explicit collect
        pair()
    assert first() is None


def test_every_collection_is_timed_with_its_generation_until_stopped() -> None:
    seen: list[tuple[int, float]] = []
    watch = PauseWatch(lambda generation, seconds: seen.append((generation, seconds))).start()
    try:
        gc.collect()
        gc.collect(0)
    finally:
        watch.stop()
    assert [generation for generation, _ in seen[-2:]] == [2, 0]
    assert all(seconds >= 0 for _, seconds in seen)
    count = len(seen)
    gc.collect()
    assert len(seen) == count
    assert watch not in gc.callbacks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def collection(watch: PauseWatch, clock: Clock, generation: int, seconds: float) -> None:
    watch("start", {"generation": generation})
    clock.now += seconds
    watch("stop", {"generation": generation, "collected": 0, "uncollectable": 0})


def test_long_pauses_are_reported_later_at_most_once_a_quiet_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, seen = Clock(), []
    watch = PauseWatch(
        lambda g, s: seen.append((g, round(s, 3))), long_s=0.25, quiet_s=60.0, clock=clock
    )
    with caplog.at_level(logging.WARNING, logger="streams.heap"):
        collection(watch, clock, 0, 0.002)  # short: recorded, never reported
        watch.report()
        assert caplog.records == []
        collection(watch, clock, 1, 0.3)
        assert caplog.records == []  # nothing logged from inside the collector
        watch.report()
        collection(watch, clock, 2, 0.5)
        collection(watch, clock, 2, 1.25)
        watch.report()  # within the quiet interval: they wait
        clock.now += 60
        watch.report()
        watch.report()  # nothing new since
    assert seen == [(0, 0.002), (1, 0.3), (2, 0.5), (2, 1.25)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert (
        "1 time(s) for 0.25 s or more since the last warning, the longest 0.30 s (generation 1)"
        in warnings[0]
    )
    assert (
        "2 time(s) for 0.25 s or more since the last warning, the longest 1.25 s (generation 2)"
        in warnings[1]
    )
    assert "SKILLSTREAM_PROFILE_CACHE" in warnings[1]
    assert "SKILLSTREAM_PROFILE_FLUSH_MS" in warnings[1]


def test_a_stop_without_its_start_records_nothing() -> None:
    seen: list[tuple[int, float]] = []
    watch = PauseWatch(lambda g, s: seen.append((g, s)), clock=Clock())
    watch("stop", {"generation": 2})
    assert seen == []
