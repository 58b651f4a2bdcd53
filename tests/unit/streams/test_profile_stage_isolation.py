"""The profile stage on the batch loop, driven without a broker: dead letters for a record it
cannot read and an event the core fails on; pipelined batches equal one batch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from core_helpers import LEARNER, catalog, event
from memory_kafka import MemoryConsumer, MemoryKafka, MemoryProducer

import streams.pipeline as pipeline
from schemas.deadletter import DeadLetter
from schemas.events import decode_learner_events, encode_learner_events
from streams.core import DEFAULT_RULES_PATH, Rules, decode_state, encode_state
from streams.kafka.batch_loop import BatchLoop
from streams.kafka.connection import KafkaConnection
from streams.pipeline import Profiles
from streams.profile_stage import ProfileStage, _Listener
from streams.state_store import StateStore

EVENTS, DLQ, PROFILES, MILESTONES = (
    "learning.events",
    "xapi.statements.dlq",
    "learner.profiles",
    "career.milestones",
)


def stage(tmp_path: Path) -> ProfileStage:
    return ProfileStage(
        Profiles(catalog(), Rules.load(DEFAULT_RULES_PATH)),
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1"),
        group_id="g",
        events_topic=EVENTS,
        milestones_topic=MILESTONES,
        profiles_topic=PROFILES,
        dlq_topic=DLQ,
        store=StateStore(tmp_path / "state"),
    )


async def run(
    profiles: ProfileStage, kafka: MemoryKafka, max_records: int, hold: bool, **options: Any
) -> None:
    consumer = MemoryConsumer(kafka, "g", EVENTS)
    producer = MemoryProducer(kafka)
    producer.hold_acks = hold
    profiles.restored = set(range(kafka.partitions[EVENTS]))
    kafka.create(profiles.changelog, kafka.partitions[EVENTS])
    profiles._consumer = consumer  # type: ignore[assignment]
    loop = BatchLoop(
        consumer,
        producer,
        profiles,
        name="profiles",
        max_records=max_records,
        min_records=1,
        **options,
    )
    profiles.loop = loop

    async def idle() -> bool:
        producer.hold_acks = False
        producer.release()
        return True

    loop.on_idle = idle
    task = asyncio.create_task(loop.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if hold:
            producer.release()  # acks come late: the next batch is processed before them
    await asyncio.wait_for(task, 10)


# A flush round every loop turn, one learner per slice: batches are processed while the
# learner's state is still waiting in a round.
SLICED: dict[str, Any] = {"flush_interval_ms": 0, "flush_slice": 1}


@pytest.mark.parametrize(
    ("max_records", "options"), [(100, {}), (1, SLICED)], ids=["one-batch", "sliced-rounds"]
)
async def test_an_unreadable_record_and_a_failing_event_are_dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_records: int, options: dict[str, Any]
) -> None:
    events = [event(f"s{n}", days=n, score=0.6) for n in range(5)]
    kafka = MemoryKafka()
    kafka.create(EVENTS, 1)
    key = LEARNER.encode()
    kafka.append(EVENTS, encode_learner_events(LEARNER, events[:3]), key=key)
    kafka.append(EVENTS, b"\x00 not a learning.events record", key=key)
    kafka.append(EVENTS, encode_learner_events(LEARNER, events[3:]), key=key)
    real_apply = pipeline.apply

    def flaky(state, ev, cat, rules):  # type: ignore[no-untyped-def]
        if ev.statement_id == "s3":
            raise RuntimeError("a bug in the core")
        return real_apply(state, ev, cat, rules)

    monkeypatch.setattr(pipeline, "apply", flaky)
    profiles = stage(tmp_path)
    await run(profiles, kafka, max_records=max_records, hold=False, **options)

    letters = [DeadLetter.model_validate_json(r.value or b"") for r in kafka.records(DLQ)]
    assert sorted((d.source.offset, d.errors[0].code) for d in letters) == [
        (1, "events_record"),
        (2, "internal"),
    ]
    internal = next(d for d in letters if d.errors[0].code == "internal")
    assert "a bug in the core" in internal.errors[0].message
    _, [dropped] = decode_learner_events(internal.original())
    assert dropped.statement_id == "s3"
    unreadable = next(d for d in letters if d.errors[0].code == "events_record")
    assert unreadable.original() == b"\x00 not a learning.events record"

    snapshots = kafka.records(PROFILES)
    assert orjson.loads(snapshots[-1].value or b"")["statements"] == 4
    stored = profiles.store.get(0, key)
    assert stored is not None
    assert decode_state(stored).learner == LEARNER
    assert profiles.stats.bad_records == 2
    assert kafka.committed[("g", next(iter(kafka.logs)))] == 3


async def test_the_core_failing_on_a_learner_still_waiting_in_a_flush_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 1 changes learners A and B; the round after it goes out one learner per slice,
    so batch 2 is processed with B's state still waiting in the round, and the core fails
    on one of B's events there: B's state is rebuilt from the round's events, and the
    round writes that rebuilt state, not the one the core left half-changed."""
    a, b = "lrn-a", "lrn-b"
    ev_a = [event(f"a{n}", days=n, score=0.6, learner=a) for n in range(2)]
    ev_b = [event(f"b{n}", days=n, score=0.6, learner=b) for n in range(5)]
    kafka = MemoryKafka()
    kafka.create(EVENTS, 1)
    kafka.append(EVENTS, encode_learner_events(a, ev_a[:1]), key=a.encode())
    kafka.append(EVENTS, encode_learner_events(b, ev_b[:3]), key=b.encode())
    kafka.append(EVENTS, encode_learner_events(a, ev_a[1:]), key=a.encode())
    kafka.append(EVENTS, encode_learner_events(b, ev_b[3:]), key=b.encode())
    real_apply = pipeline.apply
    failed_while_waiting: list[bool] = []

    def flaky(state, ev, cat, rules):  # type: ignore[no-untyped-def]
        if ev.statement_id == "b3":  # fails half-way, the state object already changed
            failed_while_waiting.append(b.encode() in profiles._pending.get(0, {}))
            real_apply(state, ev, cat, rules)
            raise RuntimeError("a bug in the core")
        return real_apply(state, ev, cat, rules)

    monkeypatch.setattr(pipeline, "apply", flaky)
    profiles = stage(tmp_path)
    await run(profiles, kafka, max_records=2, hold=False, **SLICED)

    assert failed_while_waiting[0] is True  # the case this test is about
    [letter] = [DeadLetter.model_validate_json(r.value or b"") for r in kafka.records(DLQ)]
    assert letter.errors[0].code == "internal"
    assert letter.source.offset == 3
    latest = {}
    for r in kafka.records(PROFILES):
        latest[(r.key or b"").decode()] = orjson.loads(r.value or b"")
    assert latest[a]["statements"] == 2
    assert latest[b]["statements"] == 4  # b0, b1, b2, b4: b3 dead-lettered
    clean = profiles.profiles.apply_batch(None, [ev_b[i] for i in (0, 1, 2, 4)])
    stored = profiles.store.get(0, b.encode())
    assert stored is not None
    assert encode_state(decode_state(stored)) == encode_state(clean.state)
    # Nothing ever written for B holds b3, not even for a moment.
    allowed = {
        encode_state(profiles.profiles.apply_batch(None, ev_b[:3]).state),
        encode_state(clean.state),
    }
    written = [r.value for r in kafka.records(profiles.changelog) if r.key == b.encode()]
    assert len(written) >= 2
    for value in written:
        assert encode_state(decode_state(value or b"")) in allowed
    assert kafka.committed[("g", TopicPartition(EVENTS, 0))] == 4


@pytest.mark.parametrize("options", [{}, SLICED], ids=["flush-when-idle", "sliced-rounds"])
async def test_pipelined_small_batches_end_where_one_batch_does(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    """Batches of one record with acks held back (so the next batch is processed from
    states not yet written to the store), flushed when idle or in rounds of one learner
    per slice between batches, give the store, milestones and snapshots of one batch of
    everything."""
    learners = [f"lrn-{n}" for n in range(5)]
    records = [
        (who, [event(f"{who}-s{d}", days=d, score=0.5 + d / 40, learner=who)])
        for d in range(12)
        for who in learners
    ]

    def fill() -> MemoryKafka:
        kafka = MemoryKafka()
        kafka.create(EVENTS, 2)
        for who, evs in records:
            kafka.append(EVENTS, encode_learner_events(who, evs), key=who.encode())
        return kafka

    one, many = fill(), fill()
    first, second = stage(tmp_path / "one"), stage(tmp_path / "many")
    await run(first, one, max_records=10_000, hold=False)
    await run(second, many, max_records=1, hold=True, **options)
    for who in learners:
        partition = sum(who.encode()) % 2
        a, b = first.store.get(partition, who.encode()), second.store.get(partition, who.encode())
        assert a is not None
        assert b is not None
        assert encode_state(decode_state(a)) == encode_state(decode_state(b))
    ids = {orjson.loads(r.value or b"")["id"] for r in one.records(MILESTONES)}
    assert ids
    assert {orjson.loads(r.value or b"")["id"] for r in many.records(MILESTONES)} == ids
    for tp in many.logs:
        if tp.topic == EVENTS:
            assert many.committed[("g", tp)] == len(many.logs[tp])


async def test_states_are_written_back_once_per_flush_and_committed_after_it(
    tmp_path: Path,
) -> None:
    learners = [f"lrn-{n}" for n in range(5)]
    kafka = MemoryKafka()
    kafka.create(EVENTS, 2)
    for d in range(12):
        for who in learners:
            evs = [event(f"{who}-s{d}", days=d, score=0.5 + d / 40, learner=who)]
            kafka.append(EVENTS, encode_learner_events(who, evs), key=who.encode())
    profiles = stage(tmp_path)
    profiles.flush_interval_ms = 1e9  # only the flush when idle
    consumer = MemoryConsumer(kafka, "g", EVENTS)
    kafka.create(profiles.changelog, 2)
    profiles.restored = {0, 1}
    profiles._consumer = consumer  # type: ignore[assignment]
    loop = BatchLoop(
        consumer,
        MemoryProducer(kafka),
        profiles,
        name="profiles",
        max_records=1,
        min_records=1,
        flush_interval_ms=1e9,
    )
    profiles.loop = loop
    checked: list[int] = []

    async def idle() -> bool:
        checked.append(len(consumer.commits))
        return True

    loop.on_idle = idle
    await asyncio.wait_for(loop.run(), 10)
    # 60 batches of one record, one flush: one snapshot and one changelog record each.
    assert len(kafka.records(PROFILES)) == len(learners)
    assert len(kafka.records(profiles.changelog)) == len(learners)
    assert checked == [1]  # the deferred batches are committed together, after the flush
    assert consumer.commits[0]  # one commit of every partition read
    for tp in kafka.logs:
        if tp.topic == EVENTS:
            assert kafka.committed[("g", tp)] == len(kafka.logs[tp])


async def test_a_crash_before_the_flush_commits_nothing_and_the_restart_ends_the_same(
    tmp_path: Path,
) -> None:
    learners = [f"lrn-{n}" for n in range(4)]

    def fill() -> MemoryKafka:
        kafka = MemoryKafka()
        kafka.create(EVENTS, 1)
        for d in range(10):
            for who in learners:
                evs = [event(f"{who}-s{d}", days=d, score=0.4 + d / 30, learner=who)]
                kafka.append(EVENTS, encode_learner_events(who, evs), key=who.encode())
        return kafka

    clean, crashed = fill(), fill()
    reference = stage(tmp_path / "clean")
    await run(reference, clean, max_records=5, hold=False)
    broken = stage(tmp_path / "crashed")
    broken.restored = {0}
    consumer = MemoryConsumer(crashed, "g", EVENTS)
    crashed.create(broken.changelog, 1)
    producer = MemoryProducer(crashed)
    producer.crash_after_sends = 3  # dies producing milestones, before any flush
    broken._consumer = consumer  # type: ignore[assignment]
    loop = BatchLoop(consumer, producer, broken, name="p", max_records=5, min_records=5)
    with pytest.raises(Exception, match="while producing"):
        await asyncio.wait_for(loop.run(), 10)
    assert crashed.committed == {}
    broken.store.close()
    restarted = stage(tmp_path / "crashed")
    await run(restarted, crashed, max_records=5, hold=False)
    for who in learners:
        a, b = reference.store.get(0, who.encode()), restarted.store.get(0, who.encode())
        assert a is not None
        assert b is not None
        assert encode_state(decode_state(a)) == encode_state(decode_state(b))
    ids = {orjson.loads(r.value or b"")["id"] for r in clean.records(MILESTONES)}
    assert {orjson.loads(r.value or b"")["id"] for r in crashed.records(MILESTONES)} == ids


def test_a_partition_restoring_is_assigned_but_not_served(tmp_path: Path) -> None:
    """What ``/healthz`` reports (and what ``wait_assigned`` waits for): a partition is
    served once its state is restored, not when the group hands it over; a stage that is not
    running (no consumer) holds and serves nothing."""
    kafka = MemoryKafka()
    kafka.create(EVENTS, 3)
    profiles = stage(tmp_path)
    assert profiles.assigned == set()
    assert profiles.serving == set()
    profiles._consumer = MemoryConsumer(kafka, "g", EVENTS)  # type: ignore[assignment]
    assert profiles.assigned == {0, 1, 2}
    assert profiles.serving == set()  # assigned, none restored yet
    profiles.restored = {0, 2}
    assert profiles.serving == {0, 2}
    profiles.restored = {0, 1, 2, 7}  # restored earlier, no longer assigned: not served
    profiles._consumer._assigned.discard(TopicPartition(EVENTS, 1))  # type: ignore[union-attr]
    assert profiles.serving == {0, 2}


def test_partitions_are_served_only_once_their_restore_is_done(tmp_path: Path) -> None:
    """The rebalance listener: while ``restore`` runs, the new partitions are assigned
    and not served; once it returns they are served."""
    kafka = MemoryKafka()
    kafka.create(EVENTS, 2)
    profiles = stage(tmp_path)
    profiles._consumer = MemoryConsumer(kafka, "g", EVENTS)  # type: ignore[assignment]
    during: list[tuple[set[int], set[int]]] = []

    async def restore(partitions: list[int]) -> None:
        during.append((profiles.assigned, profiles.serving))

    profiles.restore = restore  # type: ignore[method-assign]
    tps = [TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1)]
    asyncio.run(_Listener(profiles).on_partitions_assigned(tps))
    assert during == [({0, 1}, set())]
    assert profiles.serving == {0, 1}
