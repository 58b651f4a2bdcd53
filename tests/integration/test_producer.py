"""``streams.kafka.producer.RdProducer`` (librdkafka) against the real broker: keys land
where every other Kafka client puts them, acknowledgements carry the offsets the stages
checkpoint, and a failure reaches the awaiting stage as a ``KafkaError``."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from pipeline_support import new_topic

from skillstream.settings import Settings
from streams.kafka.batch_loop import Produce
from streams.kafka.connection import KafkaConnection
from streams.kafka.producer import DeliveryFailed, RdProducer


async def test_keys_land_where_the_default_partitioner_puts_them_in_order(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rd-keys"
    await new_topic(settings.kafka, topic, 7)
    producer = RdProducer(settings.kafka, "test")
    await producer.start()
    try:
        keys = [f"lrn_{n:05d}".encode() for n in range(300)]
        acks = [
            await producer.send(topic, b"v%d" % n, key=key, headers=[("n", b"%d" % n)])
            for n, key in enumerate(keys)
        ]
        pinned = await (await producer.send(topic, b"pinned", key=keys[0], partition=6))
        delivered = await asyncio.gather(*acks)
    finally:
        await producer.stop()
    every = list(range(7))
    assert [d.partition for d in delivered] == [DefaultPartitioner()(k, every, every) for k in keys]
    assert pinned.partition == 6
    for p in every:  # each partition's offsets in the order the records were sent
        offsets = [d.offset for d in delivered if d.partition == p]
        assert offsets == list(range(len(offsets)))
    consumer = settings.kafka.consumer(
        topic, client="test", group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        read: list[tuple[bytes | None, bytes | None, int, int, dict[str, bytes]]] = []
        while len(read) < 301:
            for records in (await consumer.getmany(timeout_ms=2000)).values():
                read += [(r.key, r.value, r.partition, r.offset, dict(r.headers)) for r in records]
    finally:
        await consumer.stop()
    sent = {
        (k, b"v%d" % n, d.partition, d.offset)
        for n, (k, d) in enumerate(zip(keys, delivered, strict=True))
    }
    assert {r[:4] for r in read} == sent | {(keys[0], b"pinned", 6, pinned.offset)}
    assert all(r[4] == {"n": r[1][1:]} for r in read if r[1] != b"pinned")


async def test_a_refused_record_fails_its_acknowledgement(settings: Settings, run_id: str) -> None:
    topic = f"t{run_id}-rd-small"
    await new_topic(settings.kafka, topic, 1, **{"max.message.bytes": "2000"})
    producer = RdProducer(settings.kafka, "test")
    await producer.start()
    try:
        fits = await producer.send(topic, b"x" * 100, key=b"k")
        assert (await fits).offset == 0
        too_big = await producer.send(topic, b"x" * 10_000, key=b"k")
        with pytest.raises(DeliveryFailed, match=topic) as raised:
            await too_big
        assert isinstance(raised.value, KafkaError)  # what the worker's supervisor restarts on
    finally:
        await producer.stop()


async def test_a_list_sent_at_once_resolves_to_each_record_in_order(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rd-many"
    await new_topic(settings.kafka, topic, 5)
    producer = RdProducer(settings.kafka, "test")
    await producer.start()
    try:
        keys = [f"lrn_{n:05d}".encode() for n in range(400)]
        records = [
            Produce(topic, b"v%d" % n, key=key, headers=[("n", b"%d" % n)])
            for n, key in enumerate(keys)
        ]
        records.append(Produce(topic, b"pinned", key=keys[0], partition=4))
        delivered = await (await producer.send_many(records))
        assert await (await producer.send_many([])) == []
    finally:
        await producer.stop()
    every = list(range(5))
    expected = [DefaultPartitioner()(k, every, every) for k in keys]
    assert [d.partition for d in delivered] == [*expected, 4]
    assert {d.topic for d in delivered} == {topic}
    for p in every:  # offsets in the order given, per partition
        offsets = [d.offset for d in delivered if d.partition == p]
        assert offsets == list(range(len(offsets)))


async def test_one_refused_record_fails_the_list(settings: Settings, run_id: str) -> None:
    topic = f"t{run_id}-rd-many-small"
    await new_topic(settings.kafka, topic, 1, **{"max.message.bytes": "2000"})
    producer = RdProducer(settings.kafka, "test")
    await producer.start()
    try:
        fits = [Produce(topic, b"x" * 100, key=b"k") for _ in range(3)]
        assert [d.offset for d in await (await producer.send_many(fits))] == [0, 1, 2]
        mixed = [*fits, Produce(topic, b"x" * 10_000, key=b"k"), *fits]
        with pytest.raises(DeliveryFailed, match=topic) as raised:
            await (await producer.send_many(mixed))
        assert isinstance(raised.value, KafkaError)
    finally:
        await producer.stop()


async def test_no_broker_fails_the_start_naming_the_address() -> None:
    nowhere = KafkaConnection(bootstrap_servers="127.0.0.1:9", request_timeout_ms=2_000)
    producer = RdProducer(nowhere, "test")
    with pytest.raises(DeliveryFailed, match=r"127\.0\.0\.1:9"):
        await producer.start()
    await producer.stop()
