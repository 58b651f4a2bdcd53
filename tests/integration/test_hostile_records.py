"""Single hostile records against a running pipeline: every partition keeps moving.

Each scenario feeds the exact input that once stopped a stage — a statement nested far
too deep (with and without an id), thousands of statements of one learner in one ingest
batch, records too large for the dead-letter topic as it is configured — and checks that
every other record is processed and the hostile one is dead-lettered with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pipeline_support import prepare, publish, read_results, start_worker, wait_caught_up

from schemas.events import decode_learner_events
from skillstream.kafka_io import producer, read_to_end
from skillstream.settings import Settings
from streams.kafka.limits import BROKER_DEFAULT_MAX_MESSAGE_BYTES
from tools.processes import ManagedProcess, settings_env

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
HEAVY = 8_000


def statement(n: int, who: str, *, day: int = 1) -> bytes:
    return orjson.dumps(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{who}/{n}")),
            "actor": {"mbox": f"mailto:{who}@example.com"},
            "verb": {"id": COMPLETED},
            "object": {"id": f"https://lms.example.com/courses/course-{n:05d}"},
            "timestamp": f"2026-03-{day:02d}T09:{n % 60:02d}:{n // 60 % 60:02d}Z",
        }
    )


def deep(levels: int, with_id: bool) -> bytes:
    value = "[" * levels + "0" + "]" * levels
    sid = f'"id":"{uuid.uuid4()}",' if with_id else ""
    return (
        "{" + sid + '"actor":{"mbox":"mailto:deep@example.com"},'
        f'"verb":{{"id":"{COMPLETED}"}},'
        '"object":{"id":"https://lms.example.com/courses/deep"},'
        '"timestamp":"2026-03-01T09:00:00Z",'
        '"result":{"extensions":{"https://lms.example.com/x/e":' + value + "}}}"
    ).encode()


async def test_a_statement_nested_too_deep_stops_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    good = [statement(n, f"learner-{n % 40}") for n in range(200)]
    hostile = [deep(300, with_id=False), deep(300, with_id=True), deep(900, with_id=False)]
    await prepare(settings)
    await publish(settings, [hostile[0], *good[:100], hostile[1], *good[100:], hostile[2]])
    worker = start_worker(settings, tmp_path)
    try:
        await wait_caught_up(settings, 203, [worker], timeout=120)
        assert worker.running, worker.log_tail()
        result = await read_results(settings)
    finally:
        worker.stop()
    assert len(result.profiles) == 40
    assert sum(int(p["statements"]) for p in result.profiles.values()) == 200  # type: ignore[call-overload]
    letters = {base64.b64decode(str(d["original_b64"])): d for d in result.dead_letters}
    assert set(letters) == set(hostile)
    for letter in letters.values():
        assert [e["code"] for e in letter["errors"]] == ["too_deep"]  # type: ignore[union-attr]


async def test_thousands_of_one_learners_statements_in_one_batch_are_split_to_fit(
    settings: Settings, tmp_path: Path
) -> None:
    # ~216 bytes an event in learning.events (version 2): 8,000 make ~1.7 MB, more than one
    # record of the broker's default 1 MiB can hold
    heavy = [statement(n, "heavy-learner", day=1 + n // 1440) for n in range(HEAVY)]
    await prepare(settings)
    await publish(settings, heavy)  # all on one partition before the worker starts: one poll
    settings_big_batch = settings.model_copy(update={"ingest_batch": 10_000})
    worker = start_worker(settings_big_batch, tmp_path)
    try:
        await wait_caught_up(settings, len(heavy), [worker], timeout=180)
        assert worker.running, worker.log_tail()
        result = await read_results(settings)
    finally:
        worker.stop()
    [profile] = result.profiles.values()
    assert profile["statements"] == HEAVY
    sizes = []
    ids = []
    async for record in read_to_end(settings.kafka, settings.topics.events):
        sizes.append(len(record.value))
        ids.extend(e.statement_id for e in decode_learner_events(record.value)[1])
    assert len(sizes) > 1, "one record of 8,000 events would not fit a 1 MiB topic"
    assert max(sizes) <= BROKER_DEFAULT_MAX_MESSAGE_BYTES
    assert sum(sizes) > BROKER_DEFAULT_MAX_MESSAGE_BYTES
    assert len(set(ids)) == HEAVY
    assert result.dead_letters == []


async def test_dead_letters_are_cut_down_to_the_topic_they_go_to(
    settings: Settings, tmp_path: Path
) -> None:
    """The statements DLQ here takes the broker default (1 MiB), not the 8 MiB skillstream
    asks for when it creates the topic: the size comes from the topic, not a constant."""
    bootstrap = settings.kafka.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(settings.topics.statements_dlq, num_partitions=1, replication_factor=1)]
        )
    finally:
        await admin.close()
    huge = b"not json " + bytes(range(256)) * 3_800  # ~970 KB: a 1.3 MB letter whole
    good = [statement(n, "steady") for n in range(50)]
    await prepare(settings)
    async with producer(bootstrap, max_request_size=4 * 1024 * 1024) as p:
        await (await p.send(settings.topics.statements, huge, key=b"x"))
    await publish(settings, good)
    worker = start_worker(settings, tmp_path)
    try:
        await wait_caught_up(settings, 51, [worker], timeout=120)
        assert worker.running, worker.log_tail()
        result = await read_results(settings)
    finally:
        worker.stop()
    [letter] = result.dead_letters
    assert letter["original_truncated"] is True
    assert letter["original_size"] == len(huge)
    assert letter["original_sha256"] == hashlib.sha256(huge).hexdigest()
    assert huge.startswith(base64.b64decode(str(letter["original_b64"])))
    assert [e["code"] for e in letter["errors"]] == ["utf8"]  # type: ignore[union-attr]
    [profile] = result.profiles.values()
    assert profile["statements"] == 50

    # The SQL sink meets a record it cannot read, too large to dead-letter whole.
    async with producer(bootstrap, max_request_size=4 * 1024 * 1024) as p:
        await (await p.send(settings.topics.milestones, huge, key=b"lrn_x"))
    sink = ManagedProcess(
        "sink-sql",
        ["sink", "sql", "--upgrade", "--until-caught-up"],
        settings_env(settings),
        tmp_path / "sink-sql.log",
    ).start()
    assert sink.wait_exit(120) == 0, sink.log_tail()
    failures = [
        orjson.loads(r.value) async for r in read_to_end(bootstrap, settings.topics.milestones_dlq)
    ]
    [unreadable] = [f for f in failures if f.get("value_truncated")]
    assert unreadable["value_size"] == len(huge)
    assert unreadable["value_sha256"] == hashlib.sha256(huge).hexdigest()


async def test_a_killed_worker_is_replaced_within_seconds(
    settings: Settings, tmp_path: Path
) -> None:
    """From SIGKILL to every stage caught up again: 58 s once (the restarted worker waited for
    faust's group to drop the dead member); the stages' 6 s session makes it a few seconds."""
    first = [statement(n, f"learner-{n % 30}") for n in range(300)]
    second = [statement(n, f"learner-{n % 30}", day=2) for n in range(300, 600)]
    await prepare(settings)
    await publish(settings, first)
    worker = start_worker(settings, tmp_path)
    try:
        await wait_caught_up(settings, len(first), [worker], timeout=120, settle=1)
        worker.kill()
        killed = time.monotonic()
        worker = start_worker(settings, tmp_path)
        await publish(settings, second)
        await wait_caught_up(settings, len(second), [worker], timeout=120, settle=0)
        took = time.monotonic() - killed
        result = await read_results(settings)
    finally:
        worker.stop()
    assert sum(int(p["statements"]) for p in result.profiles.values()) == 600  # type: ignore[call-overload]
    assert took < 30, f"the restarted worker took {took:.1f}s to catch up"
