"""The ingest stage without a broker: statements in, learning events and dead letters out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import orjson
from memory_kafka import MemoryConsumer, MemoryKafka, MemoryProducer

from schemas.deadletter import DeadLetter
from schemas.events import decode_learner_events
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_vocabulary
from streams.decode_memo import DecodeMemo
from streams.ingest_loop import ARRIVAL_HEADER, IngestHandler
from streams.kafka.batch_loop import BatchLoop
from streams.pipeline import Ingest


def statement(n: int, who: str) -> bytes:
    return orjson.dumps(
        {
            "id": str(uuid.UUID(int=n + 1)),
            "actor": {"mbox": f"mailto:{who}@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": f"https://lms.example.com/courses/c{n}"},
            "timestamp": f"2026-03-01T09:{n:02d}:00Z",
        }
    )


async def ingest_all(kafka: MemoryKafka, memo: DecodeMemo | None = None) -> None:
    """Run the ingest stage over everything on ``xapi.statements``, then stop."""
    handler = IngestHandler(
        Ingest(load_catalog(SAMPLE_CATALOG), load_vocabulary(None), b"s" * 32),
        events_topic="learning.events",
        dlq_topic="xapi.statements.dlq",
        memo=memo,
    )
    loop = BatchLoop(
        MemoryConsumer(kafka, "g-ingest", "xapi.statements"),
        MemoryProducer(kafka),
        handler,
        name="ingest",
    )

    async def idle() -> bool:
        return True

    loop.on_idle = idle
    await asyncio.wait_for(loop.run(), 10)


async def test_events_per_learner_in_order_and_every_invalid_record_dead_lettered() -> None:
    kafka = MemoryKafka()
    kafka.create("xapi.statements", 2)
    records = [statement(n, "ann" if n % 2 else "bob") for n in range(10)]
    for raw in records[:5]:
        kafka.append("xapi.statements", raw, key=b"ann-or-bob", partition=0)
    kafka.append("xapi.statements", b"{not json", key=b"broken", partition=1)
    for raw in records[5:]:
        kafka.append("xapi.statements", raw, key=b"ann-or-bob", partition=0)
    await ingest_all(kafka)

    events = kafka.records("learning.events")
    per_learner: dict[str, list[str]] = {}
    for r in events:
        learner, evs = decode_learner_events(r.value or b"")
        assert r.key == learner.encode()
        assert dict(r.headers)[ARRIVAL_HEADER]
        per_learner.setdefault(learner, []).extend(e.statement_id for e in evs)
    assert len(per_learner) == 2
    assert sorted(i for ids in per_learner.values() for i in ids) == sorted(
        str(uuid.UUID(int=n + 1)) for n in range(10)
    )
    for ids in per_learner.values():
        assert ids == sorted(ids)  # each learner's events in input order
    [letter] = [
        DeadLetter.model_validate_json(r.value or b"") for r in kafka.records("xapi.statements.dlq")
    ]
    assert letter.original() == b"{not json"
    assert letter.source.partition == 1
    assert letter.errors[0].code == "json"


async def test_a_statement_without_a_time_takes_its_records_time() -> None:
    kafka = MemoryKafka()
    kafka.create("xapi.statements", 1)
    timeless = orjson.loads(statement(1, "ann"))
    del timeless["timestamp"]
    kafka.append("xapi.statements", orjson.dumps(timeless), key=b"ann")
    [record] = kafka.records("xapi.statements")
    await ingest_all(kafka)
    [out] = kafka.records("learning.events")
    _, [event] = decode_learner_events(out.value or b"")
    assert event.time == datetime.fromtimestamp(record.timestamp / 1000, UTC)
    assert event.time.tzinfo is UTC


def test_the_ingest_stage_serves_its_consumers_partitions() -> None:
    """What ``/healthz`` reports for ingest: the partitions its running consumer holds;
    none when it is not running."""
    from streams.ingest_loop import IngestLoop
    from streams.kafka.connection import KafkaConnection

    loop = IngestLoop(
        Ingest(load_catalog(SAMPLE_CATALOG), load_vocabulary(None), b"s" * 32),
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1"),
        group_id="g",
        statements_topic="xapi.statements",
        events_topic="learning.events",
        dlq_topic="xapi.statements.dlq",
    )
    assert loop.serving == set()
    kafka = MemoryKafka()
    kafka.create("xapi.statements", 3)
    loop._consumer = MemoryConsumer(kafka, "g", "xapi.statements")  # type: ignore[assignment]
    assert loop.serving == {0, 1, 2}
