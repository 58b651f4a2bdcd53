"""Small aiokafka helpers the operator commands share: a producer that names the broker
when it cannot connect, and reading a topic to its current end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from skillstream.errors import ServiceUnavailable


def _unavailable(bootstrap: str, exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        "Kafka",
        f"cannot reach {bootstrap}: {exc}",
        "start a broker with `make kafka-up` or set KAFKA_BOOTSTRAP_SERVERS",
    )


@asynccontextmanager
async def producer(bootstrap: str, **options: Any) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer with ``acks=all``: a send returns once every in-sync replica has it."""
    p = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=options.pop("linger_ms", 10),
        max_batch_size=options.pop("max_batch_size", 512 * 1024),
        **options,
    )
    try:
        await p.start()
    except (KafkaConnectionError, KafkaError, OSError) as exc:
        await p.stop()
        raise _unavailable(bootstrap, exc) from exc
    try:
        yield p
    finally:
        await p.stop()


async def read_to_end(bootstrap: str, topic: str) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``topic`` from the beginning up to the end offsets seen at start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    try:
        await consumer.start()
    except (KafkaConnectionError, KafkaError, OSError) as exc:
        await consumer.stop()
        raise _unavailable(bootstrap, exc) from exc
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
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
