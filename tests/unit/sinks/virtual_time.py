"""Simulated time for asyncio tests: an event loop whose clock jumps instead of waiting.

``run_in_virtual_time(coroutine)`` runs the coroutine on a ``VirtualTimeLoop``. When
every task is waiting for a timer (``asyncio.sleep``, ``asyncio.timeout``, ``wait_for``)
and no I/O is ready, the loop moves its clock straight to the next timer instead of
blocking, so a minute-long outage with many concurrent retries runs in milliseconds
and every task sees the same, consistent clock (``loop.time()``). Real I/O still
works (it is polled first); the loop blocks for real only when nothing at all is
scheduled, e.g. while a thread pool resolves a name.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            ready: list[tuple[selectors.SelectorKey, int]] = real_select(0)
            if ready or timeout == 0:
                return ready
            if timeout is None:  # nothing scheduled: only real I/O (a thread) can wake us
                result: list[tuple[selectors.SelectorKey, int]] = real_select(None)
                return result
            self._virtual_now += timeout
            return []

        selector.select = select

    def time(self) -> float:
        return self._virtual_now


def run_in_virtual_time(coroutine: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coroutine)
