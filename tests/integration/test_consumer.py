"""``streams.kafka.consumer.RdConsumer`` (librdkafka) against the real broker: what the
stages read is what was produced, commits are what the group then holds, a revoked
partition is handed over only after the stage's listener has drained it, and a failure
reaches the stage as a ``KafkaError``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from pipeline_support import new_topic

from skillstream.lag import group_lag
from skillstream.settings import Settings
from streams.kafka.batch_loop import Produce
from streams.kafka.connection import KafkaConnection
from streams.kafka.consumer import ConsumeFailed, RdConsumer
from streams.kafka.producer import RdProducer
from streams.membership import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS


async def _topic_with(kafka: KafkaConnection, name: str, partitions: int, count: int) -> list[Any]:
    """A new topic holding ``count`` records (key ``k<n % 13>``, value ``v<n>``, a header
    ``n``); their acknowledgements."""
    await new_topic(kafka, name, partitions)
    producer = RdProducer(kafka, "test")
    await producer.start()
    try:
        records = [
            Produce(name, b"v%d" % n, key=b"k%d" % (n % 13), headers=[("n", b"%d" % n)])
            for n in range(count)
        ]
        return list(await (await producer.send_many(records)))
    finally:
        await producer.stop()


def _consumer(kafka: KafkaConnection, group: str, *topics: str) -> RdConsumer:
    return RdConsumer(
        kafka,
        "test",
        *topics,
        group_id=group,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )


async def _read(consumer: RdConsumer, count: int, seconds: float = 30.0) -> list[Any]:
    read: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(read) < count and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=97)
        for tp, records in batch.items():
            assert all(r.topic == tp.topic and r.partition == tp.partition for r in records)
            assert [r.offset for r in records] == sorted(r.offset for r in records)
            read += records
    return read


async def test_reads_what_was_produced_and_commits_what_the_group_then_holds(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rdc-read"
    sent = await _topic_with(settings.kafka, topic, 3, 500)
    before = int(time.time() * 1000)
    consumer = _consumer(settings.kafka, f"g{run_id}-read", topic)
    await consumer.start()
    try:
        read = await _read(consumer, 500)
        assert {(r.partition, r.offset) for r in read} == {(d.partition, d.offset) for d in sent}
        by_value = {r.value: r for r in read}
        for n, d in enumerate(sent):
            r = by_value[b"v%d" % n]
            assert (r.key, r.partition, r.offset) == (b"k%d" % (n % 13), d.partition, d.offset)
            assert dict(r.headers) == {"n": b"%d" % n}
            assert before - 120_000 < r.timestamp <= int(time.time() * 1000)
        assert consumer.assignment() == {TopicPartition(topic, p) for p in range(3)}
        ends = {TopicPartition(topic, p): 0 for p in range(3)}
        for d in sent:
            tp = TopicPartition(topic, d.partition)
            ends[tp] = max(ends[tp], d.offset + 1)
        halfway = {tp: end // 2 for tp, end in ends.items()}
        await consumer.commit(halfway)
        committed = {
            TopicPartition(topic, p.partition): p.committed
            for p in await group_lag(settings.kafka.bootstrap_servers, f"g{run_id}-read", topic)
        }
        assert committed == halfway
    finally:
        await consumer.stop()


async def test_seek_reads_again_and_a_paused_partition_waits(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rdc-seek"
    await _topic_with(settings.kafka, topic, 2, 200)
    consumer = _consumer(settings.kafka, f"g{run_id}-seek", topic)
    await consumer.start()
    try:
        first = await _read(consumer, 200)
        assert len(first) == 200
        zero, one = TopicPartition(topic, 0), TopicPartition(topic, 1)
        consumer.pause(one)
        assert consumer.paused() == {one}
        consumer.seek(zero, 0)
        consumer.seek(one, 0)
        again = await _read(consumer, 200, seconds=5.0)
        on_zero = sorted(r.offset for r in first if r.partition == 0)
        assert sorted(r.offset for r in again) == on_zero  # partition 1 stays paused
        consumer.resume(one)
        assert consumer.paused() == set()
        rest = await _read(consumer, len(first) - len(on_zero))
        assert {r.partition for r in rest} == {1}
        assert sorted(r.offset for r in rest) == sorted(r.offset for r in first if r.partition == 1)
    finally:
        await consumer.stop()


class _Listener:
    """Records what it heard; a revoke takes a while and commits, as a draining stage does."""

    def __init__(self, name: str, heard: list[tuple[str, str, float, list[int]]]) -> None:
        self.name = name
        self.heard = heard
        self.consumer: RdConsumer | None = None
        self.commit: dict[TopicPartition, int] = {}

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.heard.append((self.name, "revoke begins", time.monotonic(), _ps(revoked)))
        await asyncio.sleep(1.0)
        assert self.consumer is not None
        mine = {tp: offset for tp, offset in self.commit.items() if tp in revoked}
        if mine:
            await self.consumer.commit(mine)
        self.heard.append((self.name, "revoke ends", time.monotonic(), _ps(revoked)))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.heard.append((self.name, "assigned", time.monotonic(), _ps(assigned)))


async def _poll_until(done: Callable[[], bool], *consumers: RdConsumer) -> None:
    """Poll ``consumers`` together (rebalances happen inside their polls) until ``done()``."""
    deadline = time.monotonic() + 30
    while not done() and time.monotonic() < deadline:
        await asyncio.gather(*(c.getmany(timeout_ms=100) for c in consumers))


def _ps(tps: list[TopicPartition]) -> list[int]:
    return sorted(tp.partition for tp in tps)


async def test_a_partition_moves_only_after_its_listener_drained_it(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rdc-move"
    await _topic_with(settings.kafka, topic, 4, 40)
    group = f"g{run_id}-move"
    heard: list[tuple[str, str, float, list[int]]] = []
    a, b = _consumer(settings.kafka, group), _consumer(settings.kafka, group)
    la, lb = _Listener("a", heard), _Listener("b", heard)
    la.consumer, lb.consumer = a, b
    la.commit = {TopicPartition(topic, p): 3 for p in range(4)}
    await a.start()
    await b.start()
    try:
        a.subscribe([topic], listener=la)
        await _poll_until(lambda: len(a.assignment()) == 4, a)
        assert len(a.assignment()) == 4
        b.subscribe([topic], listener=lb)
        await _poll_until(lambda: bool(a.assignment() and b.assignment()), a, b)
        assert len(a.assignment()) == len(b.assignment()) == 2
        assert a.assignment().isdisjoint(b.assignment())
    finally:
        await a.stop()
        await b.stop()
    revoke_ends = [t for who, what, t, _ in heard if who == "a" and what == "revoke ends"]
    b_assigned = [t for who, what, t, ps in heard if who == "b" and what == "assigned" and ps]
    assert revoke_ends
    assert b_assigned
    assert revoke_ends[0] < b_assigned[0]  # a drained (and committed) before b got any
    lag = await group_lag(settings.kafka.bootstrap_servers, group, topic)
    assert {p.partition: p.committed for p in lag} == dict.fromkeys(range(4), 3)


async def test_no_broker_fails_the_start_naming_the_address() -> None:
    nowhere = KafkaConnection(bootstrap_servers="127.0.0.1:9", request_timeout_ms=2_000)
    consumer = _consumer(nowhere, "g-nowhere", "t")
    with pytest.raises(ConsumeFailed, match=r"127\.0\.0\.1:9") as raised:
        await consumer.start()
    assert isinstance(raised.value, KafkaError)  # what the worker's supervisor restarts on
    await consumer.stop()
    with pytest.raises(ConsumeFailed, match="not started"):
        await consumer.getmany(timeout_ms=0)


async def test_a_trickle_is_handed_over_without_waiting_for_a_full_batch(
    settings: Settings, run_id: str
) -> None:
    topic = f"t{run_id}-rdc-trickle"
    await _topic_with(settings.kafka, topic, 1, 3)
    consumer = _consumer(settings.kafka, f"g{run_id}-trickle", topic)
    await consumer.start()
    try:
        read = await _read(consumer, 3)  # joined, and the three records read
        assert sorted(r.offset for r in read) == [0, 1, 2]
        producer = RdProducer(settings.kafka, "test")
        await producer.start()
        try:
            await (await producer.send(topic, b"one more", key=b"k"))
        finally:
            await producer.stop()
        began = time.monotonic()
        batch = await consumer.getmany(timeout_ms=20_000, max_records=5000)
        waited = time.monotonic() - began
    finally:
        await consumer.stop()
    assert [r.value for records in batch.values() for r in records] == [b"one more"]
    # librdkafka's consume alone would hold the one record until the 20 s were up
    assert waited < 10.0
