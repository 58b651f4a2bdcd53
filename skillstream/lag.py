"""Consumer-group positions: committed offset, end offset and lag per partition.

``skillstream status``, the demo's progress line and the tests' "caught up"
waits all read positions through here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    NotCoordinatorError,
)

COORDINATOR_RETRIES = 20
"""A new cluster creates its offsets topic on the first group request, and a
broker that just started loads it: coordinators answer "not available" or
"loading" for a few seconds. Asked again every half second, up to 10 s."""
from streams.kafka.connection import KafkaConnection, connection  # noqa: E402 - after the notes

_TRANSIENT = (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


async def group_lag(kafka: KafkaConnection | str, group: str, topic: str) -> list[PartitionLag]:
    """Positions of ``group`` on every partition of ``topic`` (committed None = never committed)."""
    kafka = connection(kafka)
    admin = kafka.admin(client="lag")
    consumer = kafka.consumer(client="lag", group_id=None)
    await admin.start()
    await consumer.start()
    try:
        partitions = await kafka.partitions(topic) or []
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return []
        end = await consumer.end_offsets(tps)
        for attempt in range(COORDINATOR_RETRIES):
            try:
                committed = await admin.list_consumer_group_offsets(group, partitions=tps)
                break
            except _TRANSIENT:
                if attempt == COORDINATOR_RETRIES - 1:
                    raise
                await asyncio.sleep(0.5)
        out = []
        for tp in tps:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            out.append(PartitionLag(group, topic, tp.partition, offset, end[tp]))
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def total_lag(kafka: KafkaConnection | str, pairs: list[tuple[str, str]]) -> int:
    """Sum of lag over (group, topic) pairs."""
    results = await asyncio.gather(*(group_lag(kafka, g, t) for g, t in pairs))
    return sum(p.lag for parts in results for p in parts)
