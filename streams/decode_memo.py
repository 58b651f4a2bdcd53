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


class DecodeMemo:
    """Records ingest encoded, by value; see the module docstring."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"a decode memo keeps at least one record, not {capacity}")
        self.capacity = capacity
        self._kept: OrderedDict[bytes, tuple[str, list[LearningEvent]]] = OrderedDict()
        self.taken = 0
        """Records the profile stage took from the memo instead of decoding them."""
        self.decoded = 0
        """Records it decoded (not kept here)."""

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, value: bytes, learner: str, events: list[LearningEvent]) -> None:
        """Remember that ``value`` encodes ``learner``'s ``events`` (the caller no longer
        changes the list)."""
        kept = self._kept
        kept[value] = (learner, events)
        if len(kept) > self.capacity:
            kept.popitem(last=False)

    def decode(self, value: bytes) -> tuple[str, list[LearningEvent]]:
        """``decode_learner_events(value)``: the kept events if ingest wrote these bytes
        (taken: a record is normally fetched once), else decoded."""
        found = self._kept.pop(value, None)
        if found is not None:
            self.taken += 1
            return found
        self.decoded += 1
        return decode_learner_events(value)
