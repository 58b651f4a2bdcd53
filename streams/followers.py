"""Global tables: small topics every worker reads whole and keeps following.

A ``TopicFollower`` assigns itself every partition of one topic (no consumer
group), reads it from the beginning into a table through ``apply``, sets
``ready`` once it has reached the end offsets seen at start, and then keeps
applying new records: an update applies to the next statement processed,
without a restart. The worker's stages start only once every follower is
ready, so nothing is processed against a half-read table.

Two tables use it:

* the **skills catalog** (``skills.catalog``, compacted, keyed by item:
  ``skill:…``, ``activity:…``, ``ladder:…``, ``competency_types``; a null value
  deletes an item) — a statement normalized against an empty catalog would
  lose its skills, and a replay would not give the same answers;
* the **erased learners** (``learner.erased``, keyed by learner key): ingest
  drops a learner's statements that reached Kafka before that learner's
  erasure, so a replay from the beginning does not bring an erased learner
  back, while statements published after it (the learner came back) count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import orjson
from aiokafka import TopicPartition
from pydantic import TypeAdapter, ValidationError

from schemas.catalog import Catalog, CatalogItem
from streams.kafka.connection import KafkaConnection

log = logging.getLogger(__name__)
_ITEM: TypeAdapter[CatalogItem] = TypeAdapter(CatalogItem)

Apply = Callable[[bytes | None, bytes | None], bool]


class TopicFollower:
    def __init__(
        self, kafka: KafkaConnection, topic: str, apply: Apply, describe: Callable[[], str]
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self.apply = apply
        self.describe = describe
        self.ready = asyncio.Event()
        self.updates = 0

    async def run(self) -> None:
        consumer = self.kafka.consumer(
            client="follower",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
        )
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:  # not in the consumer's metadata yet: ask the cluster
                partitions = set(await self.kafka.partitions(self.topic) or [0])
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            pending = {tp for tp, offset in end.items() if offset > 0}
            while True:
                if not pending and not self.ready.is_set():
                    log.info("%s loaded: %s", self.topic, self.describe())
                    self.ready.set()
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batch.items():
                    for record in records:
                        if self.apply(record.key, record.value):
                            self.updates += 1
                    if tp in pending and records and records[-1].offset + 1 >= end[tp]:
                        pending.discard(tp)
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()


def apply_catalog_record(catalog: Catalog, key: bytes | None, value: bytes | None) -> bool:
    """Apply one ``skills.catalog`` record; False (and a log line) if it is unreadable."""
    if key is None:
        log.warning("skills.catalog record without a key ignored")
        return False
    if value is None:
        catalog.remove(key.decode("utf-8", "replace"))
        return True
    try:
        item = _ITEM.validate_json(value)
    except ValidationError as exc:
        log.error("skills.catalog item %r is invalid and was ignored: %s", key, exc)
        return False
    catalog.put(item)
    return True


def catalog_follower(kafka: KafkaConnection, topic: str, catalog: Catalog) -> TopicFollower:
    return TopicFollower(
        kafka,
        topic,
        lambda key, value: apply_catalog_record(catalog, key, value),
        lambda: (
            f"{len(catalog.skills)} skills, {len(catalog.activities)} activities, "
            f"{len(catalog.ladders)} ladders"
        ),
    )


class ErasedLearners:
    """Learner key -> when the erasure was published (ms since the epoch)."""

    def __init__(self) -> None:
        self.erased_ms: dict[str, int] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        if value is None:
            return False
        try:
            doc = orjson.loads(value)
            learner = str(doc["learner"])
            when = datetime.fromisoformat(str(doc["erased_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.error("learner.erased record %r is unreadable and was ignored: %s", key, exc)
            return False
        self.erased_ms[learner] = max(self.erased_ms.get(learner, 0), int(when.timestamp() * 1000))
        return True

    def covers(self, learner: str, record_time_ms: int) -> bool:
        """Was this learner erased after a record published at ``record_time_ms``?"""
        erased = self.erased_ms.get(learner)
        return erased is not None and record_time_ms <= erased


def erased_follower(kafka: KafkaConnection, topic: str, erased: ErasedLearners) -> TopicFollower:
    return TopicFollower(
        kafka, topic, erased.apply, lambda: f"{len(erased.erased_ms)} erased learners"
    )
