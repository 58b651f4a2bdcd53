"""Third-party CloudEvents clients read ``career.milestones`` as skillstream wrote it.

A small real pipeline produces milestones; then every record is read four ways:
raw with aiokafka (the Kafka binding's ``content-type`` header), with the
CloudEvents Java SDK's ``CloudEventDeserializer`` (which refuses a record
without that header), with the Python ``cloudevents`` SDK's Kafka binding, and
with ``jsonschema`` against the schemas ``skillstream schemas export`` writes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord
from clients.cloudevents_java import JavaRead, read_with_java_sdk
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from pipeline_support import prepare, publish, simulated, start_worker, wait_caught_up

from schemas.milestones import CLOUDEVENTS_CONTENT_TYPE
from skillstream.contracts import export_schemas
from skillstream.kafka_io import read_to_end
from skillstream.settings import Settings

pytestmark = pytest.mark.integration

# The CloudEvents Kafka binding, structured mode, as the contract spells it.
STRUCTURED_JSON = b"application/cloudevents+json; charset=UTF-8"
CONTEXT = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
CONTEXT |= {"dataschema", "data", "data_base64"}


def content_types(record: ConsumerRecord) -> list[bytes]:
    return [value for name, value in record.headers if name == "content-type"]


def written(record: ConsumerRecord) -> dict[str, Any]:
    """The event as skillstream put it on the topic, in the form the checks compare."""
    doc = orjson.loads(record.value)
    view = {name: doc.get(name) for name in CONTEXT - {"data_base64"}}
    view["time"] = datetime.fromisoformat(doc["time"])
    view["key"] = record.key.decode()
    view["extensions"] = {k: str(v) for k, v in doc.items() if k not in CONTEXT}
    return view


def java_view(line: dict[str, Any]) -> dict[str, Any]:
    view = {name: line[name] for name in CONTEXT - {"data", "data_base64", "time"}}
    view["time"] = datetime.fromisoformat(line["time"])
    view["data"] = orjson.loads(line["data"])
    view["key"] = line["key"]
    view["extensions"] = line["extensions"]
    return view


def python_view(record: ConsumerRecord) -> dict[str, Any]:
    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = from_kafka_event(message)
    attributes = dict(event.get_attributes())
    view = {name: attributes.pop(name, None) for name in CONTEXT - {"data", "data_base64"}}
    view["data"] = event.get_data()
    view["key"] = attributes.pop("partitionkey")  # the binding maps the record key to it
    view["extensions"] = {k: str(v) for k, v in attributes.items()}
    return view


async def produce_controls(bootstrap: str, topic: str, record: ConsumerRecord) -> None:
    """One copy of a milestone with the header, one without: what the checks must tell apart."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, record.value, key=record.key, headers=[("content-type", STRUCTURED_JSON)]
        )
        await producer.send_and_wait(topic, record.value, key=record.key)
    finally:
        await producer.stop()


def assert_java_read_all(read: JavaRead, records: list[ConsumerRecord]) -> None:
    expected = {"record": "summary", "read": len(records), "rejected": 0, "timed_out": False}
    assert read.summary == expected, read.rejected[:3]
    assert read.rejected == []
    by_position = {(r.partition, r.offset): r for r in records}
    seen = [(line["partition"], line["offset"]) for line in read.events]
    assert sorted(seen) == sorted(by_position)
    for line in read.events:
        assert java_view(line) == written(by_position[line["partition"], line["offset"]])


def assert_python_side(records: list[ConsumerRecord], schema_dir: Path) -> None:
    # 1. The Kafka binding: exactly one content-type header, structured JSON, on every record.
    assert CLOUDEVENTS_CONTENT_TYPE.encode() == STRUCTURED_JSON
    for r in records:
        assert content_types(r) == [STRUCTURED_JSON], (r.partition, r.offset, r.headers)

    # 2. The Python SDK's Kafka binding (structured mode: no ce_ headers) sees the same events.
    for r in records:
        expected = written(r)
        assert python_view(r) == expected, (r.partition, r.offset)
        assert expected["specversion"] == "1.0"
        assert expected["datacontenttype"] == "application/json"

    # 3. The published JSON Schemas accept every event and its data.
    paths = {p.name: p for p in export_schemas(schema_dir)}
    event_schema = orjson.loads(paths["milestone-event.v1.schema.json"].read_bytes())
    data_schema = orjson.loads(paths["milestone.v1.schema.json"].read_bytes())
    validators = []
    for schema in (event_schema, data_schema):
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validators.append(cls(schema, format_checker=cls.FORMAT_CHECKER))
    check_event, check_data = validators
    for r in records:
        doc = orjson.loads(r.value)
        check_event.validate(doc)
        check_data.validate(doc["data"])
        assert doc["dataschema"] == data_schema["$id"]


async def test_cloudevents_sdks_read_every_milestone(settings: Settings, tmp_path: Path) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    topic = settings.topics.milestones
    inputs = simulated(learners=25, days=60, seed=31)
    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    try:
        await publish(settings, inputs)
        await wait_caught_up(settings, len(inputs), [worker])
    finally:
        worker.stop()
    records = [r async for r in read_to_end(bootstrap, topic)]
    assert len(records) >= 20, "the workload should produce some tens of milestones"
    control = f"{topic}.control"
    await produce_controls(bootstrap, control, records[0])

    # The Java reader (a JVM each: the milestones and the control topic) runs meanwhile.
    java = asyncio.gather(
        asyncio.to_thread(read_with_java_sdk, bootstrap, topic, len(records)),
        asyncio.to_thread(read_with_java_sdk, bootstrap, control, 2),
    )
    try:
        assert_python_side(records, tmp_path / "schemas")
    finally:
        java_main, java_control = await java

    # 4. The Java SDK: every record read, none refused, each equal to what was written.
    assert_java_read_all(java_main, records)

    # The checks above would fail without the header: the Java SDK refuses the bare copy
    # (the Python SDK would not: it takes any record without ce_ headers as structured).
    controls = [r async for r in read_to_end(bootstrap, control)]
    assert [content_types(r) for r in controls] == [[STRUCTURED_JSON], []]
    assert [(e["offset"], e["id"]) for e in java_control.events] == [(0, written(records[0])["id"])]
    assert [e["offset"] for e in java_control.rejected] == [1]
    assert "Unknown encoding" in java_control.rejected[0]["error"]
