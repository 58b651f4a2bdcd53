"""The real broker answers: aiokafka and faust both round-trip through it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def _create(bootstrap: str, *names: str, partitions: int = 2) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def _read(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(out) < count:
                batch = await consumer.getmany(timeout_ms=500)
                out.extend((m.key, m.value) for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return out


async def test_aiokafka_round_trip(bootstrap: str, run_id: str) -> None:
    topic = f"t{run_id}.roundtrip"
    await _create(bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(50):
            await producer.send(topic, f"value-{i}".encode(), key=f"k{i % 5}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    got = await _read(bootstrap, topic, 50)

    assert sorted(v for _, v in got) == sorted(f"value-{i}".encode() for i in range(50))
    # Keys keep their partition: each key's values come back in the order sent.
    for k in range(5):
        values = [int(v.split(b"-")[1]) for key, v in got if key == f"k{k}".encode()]
        assert values == sorted(values)


async def test_faust_agent_round_trip(bootstrap: str, run_id: str, tmp_path: Path) -> None:
    """A faust agent consumes a topic, counts per key in a RocksDB table, produces the counts."""
    source, sink = f"t{run_id}.src", f"t{run_id}.dst"
    await _create(bootstrap, source, sink)
    app = faust.App(
        f"t{run_id}-faust",
        broker=f"kafka://{bootstrap}",
        store="rocksdb://",
        datadir=str(tmp_path),
        web_enabled=False,
        topic_partitions=2,
        topic_replication_factor=1,
    )
    src = app.topic(source, value_serializer="raw", key_serializer="raw")
    dst = app.topic(sink, value_serializer="raw", key_serializer="raw")
    counts = app.Table("counts", default=int, partitions=2)

    @app.agent(src, concurrency=1)
    async def count(stream: faust.Stream) -> None:  # type: ignore[type-arg]
        async for event in stream.events():
            key = event.key.decode()
            counts[key] += 1
            await dst.send(key=event.key, value=f"{key}={counts[key]}".encode())

    app.finalize()
    worker = faust.Worker(app, loglevel="warning", daemon=False, redirect_stdouts=False, quiet=True)
    worker.spinner = None  # its atexit hook writes to pytest's closed stdout
    await worker.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(12):
                await producer.send(source, b"x", key=f"learner-{i % 3}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        got = await _read(bootstrap, sink, 12)
    finally:
        await worker.stop()

    values = sorted(v.decode() for _, v in got)
    assert values == sorted(f"learner-{k}={n}" for k in range(3) for n in range(1, 5))
