"""The one batch loop, driven without a broker: order, pipelining, crashes, retries, budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from memory_kafka import Crash, MemoryConsumer, MemoryKafka, MemoryProducer

from streams.errors import ServiceUnavailable
from streams.kafka.batch_loop import Batch, BatchLoop, Outcome, Produce

IN, OUT = "in", "out"


class Echo:
    """Each record becomes one output record; ``durable`` remembers what was stored when."""

    def __init__(self, producer: MemoryProducer | None = None) -> None:
        self.processed: list[bytes] = []
        self.stored: list[tuple[bytes, int]] = []
        self.producer = producer
        self.unavailable_for = 0
        self.crash_in_durable = False

    async def process(self, batch: Batch) -> Outcome:
        if self.unavailable_for:
            self.unavailable_for -= 1
            raise ServiceUnavailable("database x", "down")
        values = [r.value for records in batch.values() for r in records]
        self.processed.extend(values)

        async def durable(metas: list[Any]) -> None:
            if self.crash_in_durable:
                raise Crash("while making the batch durable")
            assert len(metas) == len(values)
            self.stored.extend((v, m.offset) for v, m in zip(values, metas, strict=True))

        return Outcome([Produce(OUT, v + b"!", key=v) for v in values], durable)


def kafka_with(n: int, partitions: int = 3) -> MemoryKafka:
    kafka = MemoryKafka()
    kafka.create(IN, partitions)
    kafka.create(OUT, partitions)
    for i in range(n):
        kafka.append(IN, f"r{i:04d}".encode(), key=f"k{i % 7}".encode())
    return kafka


def held_acks(
    records: int, handler: Any, **options: Any
) -> tuple[MemoryKafka, MemoryProducer, MemoryConsumer, BatchLoop]:
    """``records`` input records on one partition, and a loop over them whose producer
    holds every acknowledgement back until ``release``."""
    kafka = kafka_with(records, partitions=1)
    producer = MemoryProducer(kafka)
    producer.hold_acks = True
    consumer = MemoryConsumer(kafka, "g", IN)
    return kafka, producer, consumer, BatchLoop(consumer, producer, handler, name="t", **options)


async def run_until_idle(loop: BatchLoop) -> None:
    async def idle() -> bool:
        return True

    loop.on_idle = idle
    await asyncio.wait_for(loop.run(), 10)


async def test_every_record_is_processed_produced_and_committed() -> None:
    kafka = kafka_with(500)
    consumer = MemoryConsumer(kafka, "g", IN)
    handler = Echo()
    loop = BatchLoop(consumer, MemoryProducer(kafka), handler, name="t", max_records=64)
    await run_until_idle(loop)
    inputs = {r.value for r in kafka.records(IN)}
    assert set(handler.processed) == inputs
    assert {r.value for r in kafka.records(OUT)} == {v + b"!" for v in inputs}  # type: ignore[operator]
    assert {v for v, _ in handler.stored} == inputs
    for tp in consumer.assignment():
        assert kafka.committed[("g", tp)] == len(kafka.logs[tp])


class ListProducer(MemoryProducer):
    """A producer that takes a batch's records as one list (``send_many``), as librdkafka's does."""

    def __init__(self, kafka: MemoryKafka) -> None:
        super().__init__(kafka)
        self.lists: list[int] = []

    async def send_many(self, records: list[Produce]) -> Any:
        self.lists.append(len(records))
        acks = [
            await self.send(r.topic, r.value, key=r.key, partition=r.partition, headers=r.headers)
            for r in records
        ]
        return asyncio.gather(*acks)


async def test_a_producer_that_takes_lists_gets_each_batch_as_one() -> None:
    kafka = kafka_with(500)
    consumer = MemoryConsumer(kafka, "g", IN)
    handler = Echo()
    producer = ListProducer(kafka)
    loop = BatchLoop(consumer, producer, handler, name="t", max_records=64)
    await run_until_idle(loop)
    inputs = {r.value for r in kafka.records(IN)}
    assert sum(producer.lists) == producer.sends == 500
    assert len(producer.lists) == loop.stats.batches > 1
    assert {v for v, _ in handler.stored} == inputs
    written = {(r.value, r.partition, r.offset) for r in kafka.records(OUT)}
    assert len(handler.stored) == 500  # each record's own acknowledgement reached durable
    assert all(
        any((v + b"!", p, offset) in written for p in range(3)) for v, offset in handler.stored
    )
    for tp in consumer.assignment():
        assert kafka.committed[("g", tp)] == len(kafka.logs[tp])


async def test_the_next_batch_is_processed_while_the_last_one_waits_for_its_acks() -> None:
    handler = Echo()
    kafka, producer, consumer, loop = held_acks(
        300, handler, max_records=100, min_records=100, max_in_flight=2
    )
    task = asyncio.create_task(loop.run())
    for _ in range(50):
        await asyncio.sleep(0)
    # Batch 1 is produced and unacknowledged, batch 2 is already processed: pipelined.
    assert len(handler.processed) == 200
    assert consumer.commits == []
    assert handler.stored == []
    producer.release()
    for _ in range(50):
        await asyncio.sleep(0)
    assert consumer.commits[0] == {TopicPartition(IN, 0): 100}
    producer.hold_acks = False
    producer.release()
    loop.stop()
    await asyncio.wait_for(task, 5)
    assert [c[TopicPartition(IN, 0)] for c in consumer.commits] == [100, 200, 300]
    assert [v for v, _ in handler.stored] == [r.value for r in kafka.records(IN)]


async def test_stop_and_wait_when_one_batch_may_be_in_flight() -> None:
    handler = Echo()
    _, producer, _, loop = held_acks(
        300, handler, max_records=100, min_records=100, max_in_flight=1
    )
    task = asyncio.create_task(loop.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(handler.processed) == 100
    producer.hold_acks = False
    producer.release()
    loop.stop()
    await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("crash", ["producing", "durable", "commit", "after the first commit"])
async def test_a_crash_between_any_two_steps_loses_nothing(crash: str) -> None:
    kafka = kafka_with(400)
    reference = Echo()
    clean = kafka_with(400)
    await run_until_idle(
        BatchLoop(
            MemoryConsumer(clean, "g", IN),
            MemoryProducer(clean),
            reference,
            name="t",
            max_records=50,
        )
    )
    consumer = MemoryConsumer(kafka, "g", IN)
    producer = MemoryProducer(kafka)
    handler = Echo()
    if crash == "producing":
        producer.crash_after_sends = 120
    elif crash == "durable":
        handler.crash_in_durable = True
    elif crash == "commit":
        consumer.crash_on_commit = True
    loop = BatchLoop(consumer, producer, handler, name="t", max_records=50)
    if crash == "after the first commit":
        original = consumer.commit

        async def once(offsets: dict[TopicPartition, int]) -> None:
            await original(offsets)
            raise Crash("right after a commit")

        consumer.commit = once  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await run_until_idle(loop)
    committed_before = dict(kafka.committed)
    # The restarted stage: a new consumer and producer from the committed offsets.
    restarted = Echo()
    await run_until_idle(
        BatchLoop(
            MemoryConsumer(kafka, "g", IN),
            MemoryProducer(kafka),
            restarted,
            name="t",
            max_records=50,
        )
    )
    # Nothing durable that was not committed is skipped; everything ends up processed.
    inputs = {r.value for r in kafka.records(IN)}
    assert {v for v, _ in handler.stored} | {v for v, _ in restarted.stored} == inputs
    assert {r.value for r in kafka.records(OUT)} == {r.value for r in clean.records(OUT)}
    # What was committed before the crash was durable before its commit.
    durable_before = {v for v, _ in handler.stored}
    for (_, tp), offset in committed_before.items():
        for record in kafka.logs[tp][:offset]:
            assert record.value in durable_before


async def test_an_unavailable_service_is_waited_for_in_the_group_and_nothing_is_lost() -> None:
    kafka = kafka_with(100, partitions=2)
    consumer = MemoryConsumer(kafka, "g", IN)
    handler = Echo()
    handler.unavailable_for = 3
    waits: list[str | None] = []
    loop = BatchLoop(
        consumer,
        MemoryProducer(kafka),
        handler,
        name="t",
        retry=lambda attempt: 0.01,
        on_waiting=waits.append,
    )
    await run_until_idle(loop)
    assert loop.stats.retries == 3
    assert [w is None for w in waits] == [False, False, False, True]
    assert sorted(handler.processed) == sorted(r.value for r in kafka.records(IN))  # type: ignore[type-var]
    assert consumer.paused() == set()


async def test_stop_while_waiting_commits_nothing() -> None:
    kafka = kafka_with(10, partitions=1)
    consumer = MemoryConsumer(kafka, "g", IN)
    handler = Echo()
    handler.unavailable_for = 1_000_000
    loop = BatchLoop(consumer, MemoryProducer(kafka), handler, name="t", retry=lambda a: 0.01)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.05)
    loop.stop()
    await asyncio.wait_for(task, 5)
    assert consumer.commits == []


def test_a_batch_is_sized_to_the_time_budget() -> None:
    kafka = kafka_with(0)
    loop = BatchLoop(
        MemoryConsumer(kafka, "g", IN),
        MemoryProducer(kafka),
        Echo(),
        name="t",
        max_records=5000,
        min_records=10,
        budget_ms=20,
    )
    assert loop.next_fetch == 5000  # nothing measured yet
    loop._per_record_s = 100e-6  # 100 µs a record
    assert loop.next_fetch == 200
    loop._per_record_s = 1e-6
    assert loop.next_fetch == 5000
    loop._per_record_s = 1.0
    assert loop.next_fetch == 10


class WriteBack(Echo):
    """Holds its outputs back (``deferred``) until ``flush``, as the profile stage does."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[bytes] = []
        self.round: list[bytes] = []
        self.flushed: list[list[bytes]] = []

    async def process(self, batch: Batch) -> Outcome:
        values = [r.value for records in batch.values() for r in records]
        self.processed.extend(values)
        self.held.extend(values)
        return Outcome(deferred=True)

    async def flush(self, limit: int | None = None) -> Outcome:
        if not self.round:  # a new round: what was held back so far
            self.round, self.held = self.held, []
        cut = len(self.round) if limit is None else limit
        values, self.round = self.round[:cut], self.round[cut:]

        async def durable(metas: list[Any]) -> None:
            self.flushed.append(values)

        return Outcome(
            [Produce(OUT, v + b"!", key=v) for v in values], durable, more=bool(self.round)
        )


async def test_flush_rounds_go_out_in_pipelined_slices_and_commit_only_what_is_durable() -> None:
    handler = WriteBack()
    clock = iter(range(10_000))
    kafka, producer, consumer, loop = held_acks(
        400,
        handler,
        max_records=100,
        min_records=100,
        flush_interval_ms=2500,  # the clock moves 1 s per reading: a flush every few batches
        flush_slice=30,  # each round in slices, between batches
        clock=lambda: float(next(clock)),
    )
    commit = consumer.commit
    flushed_at_commit: list[tuple[int, int]] = []

    async def checked_commit(offsets: dict[TopicPartition, int]) -> None:
        flushed_at_commit.append((offsets[TopicPartition(IN, 0)], sum(map(len, handler.flushed))))
        await commit(offsets)

    consumer.commit = checked_commit  # type: ignore[method-assign]
    task = asyncio.create_task(loop.run())
    for _ in range(100):
        await asyncio.sleep(0)
    # The first flush's records are produced and unacknowledged; the loop went on with the
    # next batches meanwhile, and committed nothing: no flush is durable yet.
    assert handler.flushed == []
    assert kafka.records(OUT)  # the flush's records are produced …
    assert len(handler.processed) > len(kafka.records(OUT))  # … and more was processed since
    assert consumer.commits == []
    producer.hold_acks = False
    producer.release()

    async def idle() -> bool:
        return True

    loop.on_idle = idle  # run to the end of the input
    await asyncio.wait_for(task, 5)
    # Every record flushed once, in order; each commit covers only records already durable.
    flushed = [v for values in handler.flushed for v in values]
    assert flushed == [r.value for r in kafka.records(IN)]
    assert flushed_at_commit, "nothing was committed"
    for offset, durable in flushed_at_commit:
        assert offset <= durable
    assert flushed_at_commit[-1][0] == 400
    assert max(map(len, handler.flushed)) <= 30 < 100  # rounds went out in slices


async def test_with_no_batch_coming_a_rounds_next_slice_goes_out_while_one_is_unacknowledged() -> (
    None
):
    handler = WriteBack()
    kafka, producer, _, loop = held_acks(
        30,
        handler,
        max_records=100,
        flush_interval_ms=0,  # a round as soon as a batch is held back
        flush_slice=10,  # the round of 30 in three slices
        clock=lambda: 0.0,
    )
    task = asyncio.create_task(loop.run())
    for _ in range(100):
        await asyncio.sleep(0)
    # One batch, then nothing more to fetch: the round's second slice went out while the
    # first was unacknowledged (one after the other before), and no more than
    # max_in_flight (2) of them are in flight.
    assert len(handler.processed) == 30
    assert [r.value for r in kafka.records(OUT)] == [f"r{i:04d}!".encode() for i in range(20)]
    assert handler.flushed == []
    while not task.done() and len(kafka.records(OUT)) < 30:
        producer.release()
        await asyncio.sleep(0)
    producer.hold_acks = False
    producer.release()

    async def idle() -> bool:
        return True

    loop.on_idle = idle
    await asyncio.wait_for(task, 5)
    assert [values for values in handler.flushed if values] == [
        [f"r{i:04d}".encode() for i in range(start, start + 10)] for start in (0, 10, 20)
    ]  # each slice durable once, in order
