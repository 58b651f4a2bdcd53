"""The profile stage, driven without a broker: a record it cannot read and an event the core
fails on become dead letters, and every other event of the batch is applied."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from core_helpers import LEARNER, catalog, event

import streams.pipeline as pipeline
from schemas.deadletter import DeadLetter
from schemas.events import decode_learner_events, encode_learner_events
from streams.core import DEFAULT_RULES_PATH, Rules, decode_state
from streams.kafka.connection import KafkaConnection
from streams.pipeline import Profiles
from streams.profile_stage import ProfileStage
from streams.state_store import StateStore


@dataclass
class Sent:
    topic: str
    value: bytes | None
    key: bytes | None


@dataclass
class Meta:
    topic: str
    partition: int
    offset: int


class MemoryProducer:
    """Records what the stage produces; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> asyncio.Future[Meta]:
        self.sent.append(Sent(topic, value, key))
        done: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        done.set_result(Meta(topic, partition or 0, len(self.sent)))
        return done

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 1_767_225_600_000
    headers: tuple[tuple[str, bytes], ...] = ()


def stage(tmp_path: Path) -> ProfileStage:
    return ProfileStage(
        Profiles(catalog(), Rules.load(DEFAULT_RULES_PATH)),
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1"),
        group_id="g",
        events_topic="learning.events",
        milestones_topic="career.milestones",
        profiles_topic="learner.profiles",
        dlq_topic="xapi.statements.dlq",
        store=StateStore(tmp_path / "state"),
    )


async def test_an_unreadable_record_and_a_failing_event_are_dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [event(f"s{n}", days=n, score=0.6) for n in range(5)]
    tp = TopicPartition("learning.events", 0)
    key = LEARNER.encode()
    batch = {
        tp: [
            Record(tp.topic, 0, 10, key, encode_learner_events(LEARNER, events[:3])),
            Record(tp.topic, 0, 11, key, b"\x00 not a learning.events record"),
            Record(tp.topic, 0, 12, key, encode_learner_events(LEARNER, events[3:])),
        ]
    }
    real_apply = pipeline.apply

    def flaky(state, ev, cat, rules):  # type: ignore[no-untyped-def]
        if ev.statement_id == "s3":
            raise RuntimeError("a bug in the core")
        return real_apply(state, ev, cat, rules)

    monkeypatch.setattr(pipeline, "apply", flaky)
    profiles = stage(tmp_path)
    producer = MemoryProducer()
    await profiles._process(batch, producer)  # type: ignore[arg-type]

    letters = [
        DeadLetter.model_validate_json(s.value or b"") for s in producer.on("xapi.statements.dlq")
    ]
    assert sorted((d.source.offset, d.errors[0].code) for d in letters) == [
        (11, "events_record"),
        (12, "internal"),
    ]
    internal = next(d for d in letters if d.errors[0].code == "internal")
    assert "a bug in the core" in internal.errors[0].message
    _, [dropped] = decode_learner_events(internal.original())
    assert dropped.statement_id == "s3"
    unreadable = next(d for d in letters if d.errors[0].code == "events_record")
    assert unreadable.original() == b"\x00 not a learning.events record"

    [snapshot] = producer.on("learner.profiles")
    assert orjson.loads(snapshot.value or b"")["statements"] == 4
    stored = profiles.store.get(0, key)
    assert stored is not None
    assert decode_state(stored).learner == LEARNER
    assert profiles.stats.bad_records == 2
