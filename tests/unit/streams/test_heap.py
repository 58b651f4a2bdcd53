"""The collector set-up of the commands that run the core at length (streams.heap)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.heap import YOUNG_THRESHOLD, quiet_collector


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
