"""The decode memo: the profile stage takes what this process's ingest encoded, and gets
exactly what decoding the record's bytes gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from memory_kafka import MemoryKafka
from test_ingest_handler import ingest_all, statement

from schemas.events import decode_learner_events, encode_learner_events
from skillstream.config import load_rules, load_vocabulary
from skillstream.settings import load_settings
from skillstream.worker import Runtime
from streams.decode_memo import DecodeMemo
from tools.simulate import Simulation


def test_a_kept_record_is_taken_once_then_decoded() -> None:
    memo = DecodeMemo()
    learner, events = decode_learner_events(_record("ann", 3))
    value = encode_learner_events(learner, events)
    memo.keep(value, learner, events)
    taken = memo.decode(bytes(value))  # equal bytes, another object: as a fetch gives them
    assert taken[0] == learner
    assert taken[1] is events  # the objects ingest holds, not built again
    assert (memo.taken, memo.decoded, len(memo)) == (1, 0, 0)
    again = memo.decode(value)  # fetched a second time (a rebalance): decoded as ever
    assert again == (learner, events)
    assert again[1] is not events
    assert (memo.taken, memo.decoded) == (1, 1)


def test_the_oldest_records_go_first_past_the_capacity() -> None:
    memo = DecodeMemo(capacity=2)
    values = []
    for who in ("ann", "bob", "cy"):
        learner, events = decode_learner_events(_record(who, 1))
        values.append(encode_learner_events(learner, events))
        memo.keep(values[-1], learner, events)
    assert len(memo) == 2
    for value in values:
        memo.decode(value)
    assert (memo.taken, memo.decoded) == (2, 1)  # ann's was dropped, and decoded


def test_the_oldest_records_go_first_past_the_bytes_and_a_record_too_big_is_not_kept() -> None:
    records = [decode_learner_events(_record(who, 2)) for who in ("ann", "bob", "cy")]
    values = [encode_learner_events(learner, events) for learner, events in records]
    memo = DecodeMemo(max_bytes=len(values[0]) + len(values[1]) + len(values[2]) - 1)
    for value, (learner, events) in zip(values, records, strict=True):
        memo.keep(value, learner, events)
    assert len(memo) == 2  # ann's went to make room
    assert memo.bytes_kept == len(values[1]) + len(values[2])
    memo.keep(values[1], *records[1])  # kept again: now the newest, counted once
    assert memo.bytes_kept == len(values[1]) + len(values[2])
    memo.keep(values[0], *records[0])
    assert len(memo) == 2  # cy's went: bob's was kept again after it
    assert memo.decode(values[1])[1] is records[1][1]
    assert memo.decode(values[2])[1] is not records[2][1]
    assert memo.bytes_kept == len(values[0])
    small = DecodeMemo(max_bytes=len(values[0]) - 1)
    small.keep(values[0], *records[0])
    assert (len(small), small.bytes_kept) == (0, 0)


def test_a_record_not_kept_is_read_or_refused_as_decoding_does() -> None:
    memo = DecodeMemo()
    with pytest.raises(ValueError, match=r"not a learning\.events record"):
        memo.decode(b"{not json")
    with pytest.raises(ValueError, match="at least one record"):
        DecodeMemo(capacity=0)
    with pytest.raises(ValueError, match="one byte"):
        DecodeMemo(max_bytes=0)


async def test_on_the_simulators_traffic_every_record_taken_equals_its_decoding() -> None:
    kafka = MemoryKafka()
    kafka.create("xapi.statements", 2)
    for i, raw in enumerate([*Simulation(60, 20, 11), *_numbers_at_the_float_limits()]):
        kafka.append("xapi.statements", raw, key=str(i % 7).encode(), partition=i % 2)
    memo = DecodeMemo(capacity=100_000)
    await ingest_all(kafka, memo)
    records = kafka.records("learning.events")
    assert len(records) > 50
    assert len(memo) == len(records)  # one record per learner and batch: every one kept
    for record in records:
        value = record.value or b""
        assert memo.decode(value) == decode_learner_events(value)
    assert (memo.taken, memo.decoded, len(memo)) == (len(records), 0, 0)


def _numbers_at_the_float_limits() -> list[bytes]:
    """Valid statements whose score or duration is past what a float holds when worked
    out: were either to become NaN or infinity, its JSON (null) would read back unlike the
    events ingest holds."""
    out = []
    for n, result in enumerate(
        [
            {"score": {"raw": 1e308, "min": -1e308, "max": 1e308}, "success": True},
            {"score": {"raw": 0, "min": -1e308, "max": 1e308}},
            {"duration": "P" + "9" * 400 + "Y", "completion": True},
        ]
    ):
        doc = orjson.loads(statement(n, f"edge{n}"))
        doc["verb"] = {"id": "http://adlnet.gov/expapi/verbs/passed"}
        doc["result"] = result
        out.append(orjson.dumps(doc))
    return out


def _record(who: str, n: int) -> bytes:
    """A learning.events record of ``n`` statements of ``who``, through the ingest stage."""
    kafka = MemoryKafka()
    kafka.create("xapi.statements", 1)
    for i in range(n):
        kafka.append("xapi.statements", statement(i, who), key=who.encode(), partition=0)
    asyncio.run(ingest_all(kafka))
    [record] = kafka.records("learning.events")
    return record.value or b""


@pytest.mark.parametrize(
    ("stages", "kept"), [("all", True), ("ingest", False), ("profiles", False)]
)
def test_a_worker_keeps_a_memo_only_when_it_runs_both_stages(
    tmp_path: Path, stages: str, kept: bool
) -> None:
    runtime = Runtime(
        load_settings(worker_stages=stages, data_dir=tmp_path),
        load_rules(None),
        load_vocabulary(None),
    )
    assert (runtime.memo is not None) is kept
    assert runtime.ingest_loop.handler.memo is runtime.memo
    assert runtime.profile_stage.memo is runtime.memo
