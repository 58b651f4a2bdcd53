"""What this process's ingest just encoded, for its profile stage to take instead of decoding.

A worker process runs both stages: ingest encodes a learner's events into a
``learning.events`` record, and moments later the profile stage of the same process
often fetches that very record back and decodes it (about 2 µs an event: the events
are built again, field by field). ``DecodeMemo`` keeps, for the records ingest wrote
last, the value's bytes and the events they were encoded from; the profile stage takes
them when it fetches a record with the same bytes, and decodes every other record.

Nothing about the flow changes: every record still goes through Kafka, is fetched,
ordered and committed as before, and what the profile stage applies is what the bytes
say. The memo only skips rebuilding objects equal to the ones ingest already holds —
``decode_learner_events`` is a pure function of the bytes, and the bytes are the key
(``tests/unit/streams/test_decode_memo.py`` holds the two equal on the simulator's
traffic). A record another process wrote, one fetched again after a rebalance or a
restart, or one older than the last ``capacity`` records is decoded as ever.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from schemas.events import LearningEvent, decode_learner_events

DEFAULT_CAPACITY: Final = 4096
"""Records kept: ingest is a few batches ahead of the profile stage at most (a batch of
5,000 statements makes ~700 records on the simulator's traffic); older ones are dropped."""
DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024
"""And at most this many bytes of record values (the events kept take about four times as
much again, and those the native ingest built a little more: the values it derived for the
profile core, ``schemas.events.DERIVED``): a backfill of few, very active learners writes
records of up to a megabyte."""


class DecodeMemo:
    """Records ingest encoded, by value; see the module docstring."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if capacity < 1 or max_bytes < 1:
            raise ValueError(
                f"a decode memo keeps at least one record and one byte, not {capacity} "
                f"records and {max_bytes} bytes"
            )
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._kept: OrderedDict[bytes, tuple[str, list[LearningEvent]]] = OrderedDict()
        self._bytes = 0
        """The lengths of the values kept, summed."""
        self.taken = 0
        """Records the profile stage took from the memo instead of decoding them."""
        self.decoded = 0
        """Records it decoded (not kept here)."""

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def bytes_kept(self) -> int:
        """The lengths of the values kept, summed."""
        return self._bytes

    def keep(self, value: bytes, learner: str, events: list[LearningEvent]) -> None:
        """Remember that ``value`` encodes ``learner``'s ``events`` (the caller no longer
        changes the list); the oldest go past ``capacity`` records or ``max_bytes``."""
        size = len(value)
        if size > self.max_bytes:
            return  # decoded when fetched, as any record not kept
        kept = self._kept
        if value in kept:
            kept.move_to_end(value)
        else:
            self._bytes += size
        kept[value] = (learner, events)
        while len(kept) > self.capacity or self._bytes > self.max_bytes:
            oldest, _ = kept.popitem(last=False)
            self._bytes -= len(oldest)

    def decode(self, value: bytes) -> tuple[str, list[LearningEvent]]:
        """``decode_learner_events(value)``: the kept events if ingest wrote these bytes
        (taken: a record is normally fetched once), else decoded."""
        found = self._kept.pop(value, None)
        if found is not None:
            self._bytes -= len(value)
            self.taken += 1
            return found
        self.decoded += 1
        return decode_learner_events(value)
