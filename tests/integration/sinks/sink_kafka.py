"""Kafka helpers for the sink tests: produce milestones, read a topic to its end, read offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.milestones import MilestoneDeliveryFailure, MilestoneEvent
from sinks.deadletters import UnreadableRecord, read_dead_letter

Raw = tuple[bytes | None, bytes | None]
READ_TIMEOUT_S = 60.0


def as_raw(event: MilestoneEvent) -> Raw:
    return event.data.learner.encode(), event.model_dump_json().encode()


async def produce(bootstrap: str, topic: str, records: Iterable[Raw | MilestoneEvent]) -> int:
    """Publish in order (acks=all); a learner's records keep their order in its partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        for record in records:
            key, value = as_raw(record) if isinstance(record, MilestoneEvent) else record
            futures.append(await producer.send(topic, value=value, key=key))
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def partition_numbers(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described["partitions"])


async def read_topic(bootstrap: str, topic: str) -> list[Raw]:
    """Every record the topic holds now, partition by partition."""
    partitions = [TopicPartition(topic, p) for p in await partition_numbers(bootstrap, topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: dict[TopicPartition, list[Raw]] = {tp: [] for tp in partitions}
        async with asyncio.timeout(READ_TIMEOUT_S):
            pending = {tp for tp in partitions if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=200)
                for tp, messages in batch.items():
                    out[tp].extend((m.key, m.value) for m in messages)
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return [record for tp in partitions for record in out[tp]]
    finally:
        await consumer.stop()


async def dead_letters(
    bootstrap: str, topic: str
) -> list[MilestoneDeliveryFailure | UnreadableRecord]:
    return [read_dead_letter(value) for _, value in await read_topic(bootstrap, topic) if value]


async def committed(bootstrap: str, group: str, topics: Sequence[str]) -> dict[str, int]:
    """The group's committed offsets, summed per topic (0 where nothing is committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    totals = dict.fromkeys(topics, 0)
    for tp, meta in offsets.items():
        if tp.topic in totals and meta.offset >= 0:
            totals[tp.topic] += meta.offset
    return totals
