"""Reading the ``--from`` of ``skillstream replay``: where on the input topic to start again.

Accepted, for people typing at a terminal:

* ``earliest`` — the beginning of every partition (what the topic still holds);
* an ISO 8601 date or date-time: ``2026-03-01``, ``2026-03-01T14:30``,
  ``2026-03-01T14:30:00Z``, ``2026-03-01 14:30:00+02:00``; without a time zone
  it is UTC (skillstream's times are all UTC);
* a duration back from now: ``90s``, ``15m``, ``2h``, ``3d``, ``1w``.

The time is compared with Kafka record times (when each statement was
published), not with the statements' own ``timestamp``. Anything else, and a
time in the future, is a ``UsageError`` that shows the accepted forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

FORMS: Final = (
    "earliest, an ISO 8601 time like 2026-03-01T14:30:00Z (UTC if no zone), or 2h / 3d ago"
)
_DURATION: Final = re.compile(r"(\d+)\s*(s|m|h|d|w)(?:\s+ago)?")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class Start:
    """Where a replay starts: the beginning (``at is None``) or the first record at ``at``."""

    at: datetime | None

    @property
    def earliest(self) -> bool:
        return self.at is None

    @property
    def timestamp_ms(self) -> int:
        assert self.at is not None
        return int(self.at.timestamp() * 1000)

    def describe(self) -> str:
        if self.at is None:
            return "the beginning (earliest)"
        return self.at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_start(text: str, now: datetime | None = None, option: str = "--from") -> Start:
    """``option`` (``--from``) as a ``Start``; raises ``ValueError`` naming ``option``, with
    the accepted forms."""
    now = now or datetime.now(UTC)
    value = text.strip()
    lowered = value.lower()
    if lowered in ("earliest", "beginning"):
        return Start(None)
    if not value:
        raise ValueError(f"{option} is empty: give {FORMS}")
    match = _DURATION.fullmatch(lowered)
    if match is not None:
        amount, unit = int(match.group(1)), match.group(2)
        return Start(now - timedelta(**{_UNITS[unit]: amount}))
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{option} {value!r} is not a time skillstream understands: give {FORMS}"
        ) from None
    at = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if at > now + timedelta(seconds=1):
        raise ValueError(
            f"{option} {value!r} is in the future ({at.isoformat()}); nothing was published then"
        )
    return Start(at)
