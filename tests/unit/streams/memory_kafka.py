"""An in-memory Kafka for driving stages without a broker: topics, a consumer, a producer.

Just enough of aiokafka's consumer and producer for ``streams.kafka.batch_loop`` and the
stage handlers: partitions are lists, a consumer reads its assigned partitions from its
group's committed offsets, a producer appends and acknowledges when told to. Faults are
injected by the tests (``crash_at``), acknowledgements can be held back (``hold_acks``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 1_767_225_600_000
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Meta:
    topic: str
    partition: int
    offset: int


class Crash(Exception):
    """A process dying at the step a test chose."""


@dataclass
class MemoryKafka:
    partitions: dict[str, int] = field(default_factory=dict)
    logs: dict[TopicPartition, list[Record]] = field(default_factory=dict)
    committed: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)

    def create(self, topic: str, partitions: int) -> None:
        self.partitions[topic] = partitions
        for p in range(partitions):
            self.logs.setdefault(TopicPartition(topic, p), [])

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> Meta:
        if topic not in self.partitions:
            self.create(topic, 1)
        if partition is None:
            partition = 0 if key is None else sum(key) % self.partitions[topic]
        tp = TopicPartition(topic, partition)
        log = self.logs[tp]
        log.append(Record(topic, partition, len(log), key, value, headers=tuple(headers or ())))
        return Meta(topic, partition, len(log) - 1)

    def records(self, topic: str) -> list[Record]:
        return [
            r
            for p in range(self.partitions.get(topic, 0))
            for r in self.logs[TopicPartition(topic, p)]
        ]


class MemoryConsumer:
    def __init__(self, kafka: MemoryKafka, group: str, topic: str) -> None:
        self.kafka = kafka
        self.group = group
        self._assigned = {TopicPartition(topic, p) for p in range(kafka.partitions[topic])}
        self._position = {tp: kafka.committed.get((group, tp), 0) for tp in self._assigned}
        self._paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.crash_on_commit = False

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        await asyncio.sleep(0)
        out: dict[TopicPartition, list[Record]] = {}
        budget = max_records or 1 << 30
        for tp in sorted(self._assigned - self._paused):
            log = self.kafka.logs[tp]
            start = self._position[tp]
            taken = log[start : start + budget]
            if taken:
                out[tp] = taken
                self._position[tp] = start + len(taken)
                budget -= len(taken)
            if budget <= 0:
                break
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.crash_on_commit:
            raise Crash("before the commit")
        self.commits.append(dict(offsets))
        for tp, offset in offsets.items():
            self.kafka.committed[(self.group, tp)] = offset

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._position[partition] = offset


class MemoryProducer:
    """Appends at once; the acknowledgement resolves at once, or when ``release`` is called."""

    def __init__(self, kafka: MemoryKafka) -> None:
        self.kafka = kafka
        self.hold_acks = False
        self._held: list[tuple[asyncio.Future[Meta], Meta]] = []
        self.crash_after_sends: int | None = None
        self.sends = 0

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Any = None,
    ) -> asyncio.Future[Meta]:
        if self.crash_after_sends is not None and self.sends >= self.crash_after_sends:
            raise Crash("while producing")
        self.sends += 1
        meta = self.kafka.append(topic, value, key, partition, headers)
        future: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        if self.hold_acks:
            self._held.append((future, meta))
        else:
            future.set_result(meta)
        return future

    def release(self) -> int:
        held, self._held = self._held, []
        for future, meta in held:
            future.set_result(meta)
        return len(held)
