"""The two kinds of record a sink puts on the milestones dead-letter topic.

``career.milestones.dlq`` is keyed by learner and holds

* ``MilestoneDeliveryFailure`` (schemas/milestones.py): a sink read the
  milestone but gave up on it — a webhook subscriber past its retry budget or
  refusing it with a 4xx, a database refusing the row. The milestone travels
  whole, so it can be published again once the cause is fixed.
* ``UnreadableRecord`` (below): a record a sink could not read at all (not
  JSON, not the contract, a tombstone where none belongs) or a profile or
  erasure record the database refused. Its bytes travel base64-encoded with
  the topic, partition and offset it came from.

Every dead letter carries the header ``skillstream-dead-letter`` naming its
kind and version (``milestone-delivery-failure.v1`` or ``unreadable-record.v1``),
so a reader can tell them apart before parsing.

Every dead letter fits its topic (``fit``): a record of nearly a megabyte that a
sink cannot read would make a dead letter a third larger (base64), which the
topic would refuse on every retry — and the sink would wait forever. A letter
too big keeps the first bytes of the value, says it was truncated, and keeps the
value's size and SHA-256 beside where it came from.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal

import orjson
from pydantic import Field, ValidationError

from schemas._base import Published, UtcDatetime
from schemas.deadletter import SourcePosition
from schemas.milestones import MilestoneDeliveryFailure
from sinks.base import DeadLetter, MilestoneRecord, Source

MAX_ERROR_CHARS = 2000
"""How much of an error message a dead letter keeps."""
KIND_HEADER = "skillstream-dead-letter"
DELIVERY_FAILURE_KIND = b"milestone-delivery-failure.v1"
UNREADABLE_KIND = b"unreadable-record.v1"


class UnreadableRecord(Published):
    """A record a sink could not read or store, kept byte for byte with where it came from."""

    version: Literal[1] = 1
    sink: str = Field(description="Which sink gave up, e.g. 'sql' or 'webhook'.")
    error: str
    failed_at: UtcDatetime
    source: SourcePosition
    key_b64: str | None = Field(description="The record key, base64; None if it had none.")
    value_b64: str | None = Field(description="The record value, base64; None for a tombstone.")
    value_truncated: bool = Field(
        default=False, description="True when only the first bytes of the value are kept."
    )
    value_size: int | None = Field(default=None, ge=0, description="Set when truncated.")
    value_sha256: str | None = Field(default=None, description="Set when truncated.")

    def key(self) -> bytes | None:
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)

    def value(self) -> bytes | None:
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def delivery_failure(
    sink: str, record: MilestoneRecord, error: str, attempts: int, now: datetime
) -> DeadLetter:
    failure = MilestoneDeliveryFailure(
        sink=sink,
        error=error[:MAX_ERROR_CHARS],
        attempts=attempts,
        failed_at=now,
        milestone=record.event,
    )
    return DeadLetter(
        key=record.learner.encode("utf-8"),
        value=failure.model_dump_json().encode("utf-8"),
        headers=((KIND_HEADER, DELIVERY_FAILURE_KIND),),
    )


def unreadable(sink: str, source: Source, error: str, now: datetime) -> DeadLetter:
    record = UnreadableRecord(
        sink=sink,
        error=error[:MAX_ERROR_CHARS],
        failed_at=now,
        source=SourcePosition(
            topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            timestamp_ms=source.timestamp_ms,
        ),
        key_b64=_b64(source.key),
        value_b64=_b64(source.value),
    )
    return DeadLetter(
        key=source.key,
        value=record.model_dump_json().encode("utf-8"),
        headers=((KIND_HEADER, UNREADABLE_KIND),),
    )


def fit(letter: DeadLetter, max_bytes: int) -> DeadLetter:
    """``letter`` if its value fits ``max_bytes``; otherwise the same unreadable-record letter
    keeping only the first bytes of the record it carries.

    Delivery failures are bounded by construction (a milestone cites at most the rules'
    ``max_evidence`` statements and the error is cut to ``MAX_ERROR_CHARS``), so only
    unreadable records, which carry whatever a producer wrote, are ever cut down.
    """
    if len(letter.value) <= max_bytes or dict(letter.headers).get(KIND_HEADER) != UNREADABLE_KIND:
        return letter
    record = UnreadableRecord.model_validate_json(letter.value)
    raw = record.value() or b""
    shell = record.model_copy(
        update={
            "value_b64": "",
            "value_truncated": True,
            "value_size": len(raw),
            "value_sha256": hashlib.sha256(raw).hexdigest(),
        }
    )
    room = max_bytes - len(shell.model_dump_json().encode())
    kept = raw[: max(room, 0) // 4 * 3]
    value = shell.model_copy(update={"value_b64": _b64(kept)}).model_dump_json().encode()
    return DeadLetter(key=letter.key, value=value, headers=letter.headers)


def read_dead_letter(value: bytes) -> MilestoneDeliveryFailure | UnreadableRecord:
    """Parse a record from the dead-letter topic, whichever kind it is."""
    parsed = orjson.loads(value)
    if isinstance(parsed, dict) and "milestone" in parsed:
        return MilestoneDeliveryFailure.model_validate_json(value)
    return UnreadableRecord.model_validate_json(value)


def validation_summary(exc: ValidationError, limit: int = 3) -> str:
    """A one-line account of a pydantic error: the first few fields and what is wrong with each."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "$"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
