"""How a process that runs the profile core treats Python's cyclic garbage collector.

The hot path allocates a few hundred short-lived objects per statement (parsed JSON,
events, figures, milestone payloads) and frees nearly all of them by reference counting:
they hold no cycles. CPython still runs a young-generation collection every 700
allocations net of frees, and every tenth one also walks the middle generation. At full speed
that is hundreds of collections a second, each finding almost nothing to free; every
startup object (modules, the catalog, the rules, pydantic's schemas) is walked again by
each full collection.

``quiet_collector`` is called once by the commands that run the core at length — the
worker and ``skillstream offline`` — after their startup objects are loaded: it moves them
out of the collector's reach for good (``gc.freeze``) and runs a young collection every
``YOUNG_THRESHOLD`` allocations instead. Cycles are still collected; the middle and old
generations keep CPython's own ratios. Measured on the offline core over 123,363
simulated statements (compiled core): time inside the collector 0.60–0.67 s → 0.13–0.18 s
of about 11 s of CPU, 539 collections → 7; ``make bench`` prints the offline core's time in the collector.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger(__name__)

YOUNG_THRESHOLD: Final = 50_000
"""Allocations (net of frees) between two young-generation collections (CPython: 700)."""


def quiet_collector(young: int = YOUNG_THRESHOLD) -> None:
    """Freeze what the process has loaded so far out of the collector's scans, and run
    young collections every ``young`` allocations. Call once, when startup is done."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


LONG_PAUSE_S: Final = 0.25
"""A collection that stops the process this long is worth a warning."""


class PauseWatch:
    """Times every cyclic collection of the process: ``record(generation, seconds)`` after
    each, from inside the collector (``gc.callbacks``; ``record`` must take no lock that
    code allocating objects may hold), and keeps the collections of ``long_s`` or more for
    ``report``, which the owner calls from its own loop: a warning at most every
    ``quiet_s``, counting the long pauses since the last one. Nothing is logged from
    inside the collector, where a log handler's lock may be held by the thread the
    collection interrupted.

    A collection walks what the process holds alive in the generations it collects, and
    a worker holds two things that grow with its traffic: the decoded profile states it
    caches (``SKILLSTREAM_PROFILE_CACHE``) and the events its learners' states wait to be
    written back with (``SKILLSTREAM_PROFILE_FLUSH_MS``). Measured in one worker process
    over 20,000 learners: young and middle collections took 2.7–3.0 s of a 30 s run
    (the longest middle one 0.3–0.5 s); a full collection over 20,000 decoded states about
    1 s. The profile stage takes both out of the walks (``streams.core.untrack_state``,
    ``untrack_events``; ``docs/engine.md``, "The cyclic collector")."""

    def __init__(
        self,
        record: Callable[[int, float], None],
        *,
        long_s: float = LONG_PAUSE_S,
        quiet_s: float = 60.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.record = record
        self.long_s = long_s
        self.quiet_s = quiet_s
        self.clock = clock
        self._started: float | None = None
        self._long: list[tuple[int, float]] = []
        """(generation, seconds) of each long collection not yet reported."""
        self._warned: float | None = None

    def start(self) -> PauseWatch:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def stop(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self.clock()
            return
        if self._started is None:
            return
        seconds, self._started = self.clock() - self._started, None
        generation = int(info.get("generation", 0))
        self.record(generation, seconds)
        if seconds >= self.long_s:
            self._long.append((generation, seconds))

    def report(self) -> None:
        """Log the long collections since the last warning, unless one was logged less
        than ``quiet_s`` ago (they wait for the next call)."""
        now = self.clock()
        if not self._long or (self._warned is not None and now - self._warned < self.quiet_s):
            return
        pauses, self._long = self._long, []
        generation, longest = max(pauses, key=lambda pause: pause[1])
        log.warning(
            "the cyclic garbage collector stopped this process %d time(s) for %g s or more "
            "since the last warning, the longest %.2f s (generation %d); its walks grow with "
            "the profile states cached (SKILLSTREAM_PROFILE_CACHE) and the events held until "
            "the next write-back (SKILLSTREAM_PROFILE_FLUSH_MS)",
            len(pauses),
            self.long_s,
            longest,
            generation,
        )
        self._warned = now
