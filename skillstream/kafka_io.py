"""Small aiokafka helpers the operator commands share: a check that the cluster answers,
a producer that names the broker when it cannot connect, and reading a topic to its
current end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from skillstream.settings import Settings
from streams.kafka.connection import KafkaConnection, connection


def check_kafka(settings: Settings) -> None:
    """Before a command starts its work: connect to the cluster once, TLS and SASL included,
    and exit 3 naming the brokers and the cause when that fails."""
    asyncio.run(settings.kafka.check())


@asynccontextmanager
async def producer(
    kafka: KafkaConnection | str, **options: Any
) -> AsyncIterator[AIOKafkaProducer[bytes, bytes]]:
    """An idempotent producer with ``acks=all``: a send returns once every in-sync replica has it."""
    kafka = connection(kafka)
    p = kafka.producer(
        client=options.pop("client", "producer"),
        acks="all",
        enable_idempotence=True,
        linger_ms=options.pop("linger_ms", 10),
        max_batch_size=options.pop("max_batch_size", 512 * 1024),
        **options,
    )
    try:
        await p.start()
    except (KafkaError, OSError) as exc:
        await p.stop()
        raise kafka.unavailable(exc) from exc
    try:
        yield p
    finally:
        await p.stop()


async def read_to_end(
    kafka: KafkaConnection | str, topic: str
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning up to the end offsets seen at start."""
    records = read_range(kafka, topic)
    try:
        async for record in records:
            yield record
    finally:
        await records.aclose()  # stops its consumer now when the caller stops early


async def read_range(
    kafka: KafkaConnection | str,
    topic: str,
    since_ms: int | None = None,
    on_total: Callable[[int], None] | None = None,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """The records of ``topic`` published at ``since_ms`` or later (all, if None), up to
    the end offsets seen at start; ``on_total`` hears how many that is before the first."""
    kafka = connection(kafka)
    consumer = kafka.consumer(client="reader", enable_auto_commit=False, group_id=None)
    try:
        await consumer.start()
        partitions = await kafka.partitions(topic)
    except (KafkaError, OSError) as exc:
        await consumer.stop()
        raise kafka.unavailable(exc) from exc
    try:
        if not partitions:
            return
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        if since_ms is None:
            start = await consumer.beginning_offsets(tps)
        else:
            found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            start = {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}
        for tp in tps:
            consumer.seek(tp, start[tp])
        if on_total is not None:
            on_total(sum(max(end[tp] - start[tp], 0) for tp in tps))
        remaining = {tp for tp in tps if end[tp] > start[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < end[tp]:
                        yield record
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
