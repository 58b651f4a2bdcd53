"""The one interface every sink implements, and the records it is handed.

The runner owns Kafka (consuming, dead-lettering, committing); a sink owns its
store. Between them, the contract a sink keeps:

* ``write(batch)`` returns only when every record of the batch is durable in
  the sink, or is handed back as a dead letter in ``WriteResult``. The runner
  commits the batch's offsets after that, never before.
* Writing is idempotent: the same records written again (a redelivery after a
  crash, a replay from an earlier offset) leave the sink as one write would,
  with one record per milestone id.
* Records of one learner keep their order: each learner's records reach a sink
  in partition order, and a sink never lets an earlier one undo a later one.
* ``ServiceUnavailable`` from ``start`` means the sink cannot run at all (the
  command exits 3). From ``write`` it means "nothing of this batch can be
  written now": the runner backs off and hands the same batch again, without
  committing, for as long as it takes. Any other exception is a crash: the
  runner stops without committing and the batch is redelivered on restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot
from schemas.topology import Topics


class Feed(StrEnum):
    """What a sink consumes; the runner maps each feed to its topic in ``Topics``."""

    MILESTONES = "milestones"
    PROFILES = "profiles"
    ERASURES = "erasures"

    def topic(self, topics: Topics) -> str:
        if self is Feed.MILESTONES:
            return topics.milestones
        if self is Feed.PROFILES:
            return topics.profiles
        return topics.erased


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record came from, with its bytes (kept for dead letters)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

    @property
    def published_at(self) -> datetime:
        """The Kafka record timestamp: when the record was published."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class MilestoneRecord:
    event: MilestoneEvent
    source: Source

    @property
    def learner(self) -> str:
        return self.event.data.learner


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """A profile snapshot, or a tombstone (``snapshot is None``): the learner's profile is gone."""

    learner: str
    snapshot: ProfileSnapshot | None
    source: Source


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """A learner was erased: every row published about them before ``source.published_at`` goes."""

    learner: str
    source: Source


SinkRecord = MilestoneRecord | ProfileRecord | ErasureRecord


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record for the milestones dead-letter topic, ready to produce."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)
class WriteResult:
    """What became of a batch: records written, and the ones handed back as dead letters.

    ``deliveries`` counts what the sink did for the records: rows for the SQL
    sink, successful POSTs (one per milestone and subscriber) for webhooks.
    """

    written: int = 0
    deliveries: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


class Sink(ABC):
    """A destination for milestones (and, for some sinks, profiles and erasures)."""

    name: str
    """Short and stable: names the consumer group (``<group_id>-sink-<name>``) and dead letters."""

    feeds: frozenset[Feed]

    @abstractmethod
    def describe(self) -> str:
        """Where the sink writes, without secrets, for status lines and errors."""

    async def start(self) -> None:  # noqa: B027 - a sink with nothing to open keeps the default
        """Open connections and check the store answers; raise ``ServiceUnavailable`` if not."""

    @abstractmethod
    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        """Make the batch durable; see the module docstring for the contract."""

    async def close(self) -> None:  # noqa: B027 - a sink with nothing to close keeps the default
        """Release connections. Called once, after the last ``write``."""
