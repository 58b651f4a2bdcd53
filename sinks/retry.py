"""Backoff with full jitter, and the HTTP ``Retry-After`` header.

Full jitter: the n-th wait is drawn uniformly from [0, min(cap, initial * 2**(n-1))).
Many sinks retrying after the same outage then spread out instead of
returning in step, and the ceiling still grows fast enough to leave a
struggling service alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MAX_EXPONENT = 62
_DELAY_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float
    max_s: float

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s):
            raise ValueError(f"backoff needs 0 < initial ({self.initial_s}) <= max ({self.max_s})")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the ``attempt``-th failure (1-based)."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return min(self.max_s, self.initial_s * float(2**exponent))

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """A wait in [0, ceiling(attempt)); ``rng`` returns a float in [0, 1)."""
        return rng() * self.ceiling(attempt)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when absent or unreadable.

    The header is either delay-seconds (ASCII digits only) or an HTTP-date
    (``Wed, 21 Oct 2026 07:28:00 GMT``); a date in the past means "now" (0).
    ``now`` must be timezone-aware.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
