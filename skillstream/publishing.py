"""Publishing statements to ``xapi.statements``: the one way skillstream's own tools do it.

Records are keyed by the learner key of the statement's actor (a group: its
first identified member), so one learner's statements share a partition and
keep their order through ingest. Every send waits for all in-sync replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import orjson

from schemas.identity import learner_keys
from skillstream.kafka_io import producer
from skillstream.settings import Settings
from skillstream.topics import create_topics


def partition_key(raw: bytes, secret: bytes) -> bytes | None:
    """The learner key of a statement's actor (first member of a group), so one learner's
    statements share a partition and keep their order; None when there is no actor."""
    try:
        statement = orjson.loads(raw)
        keys = learner_keys(statement["actor"], secret)
    except Exception:  # noqa: BLE001 - an unreadable record is still published, unkeyed
        return None
    return keys[0].encode() if keys else None


async def publish_records(
    settings: Settings, records: Iterable[bytes], on_sent: Callable[[int], None] | None = None
) -> int:
    """Produce records to the statements topic with acks=all; return how many."""
    await create_topics(settings.kafka, settings.topics)
    secret = settings.learner_secret_bytes
    topic = settings.topics.statements
    sent = 0
    async with producer(settings.kafka) as p:
        window = []
        for raw in records:
            window.append(await p.send(topic, raw, key=partition_key(raw, secret)))
            if len(window) >= 10_000:
                await asyncio.gather(*window)
                sent += len(window)
                if on_sent is not None:
                    on_sent(len(window))
                window.clear()
        if window:
            await asyncio.gather(*window)
            sent += len(window)
            if on_sent is not None:
                on_sent(len(window))
    return sent
