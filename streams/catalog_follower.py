"""The skills catalog as a global table: every worker reads all of ``skills.catalog``.

The topic is compacted and keyed by item (``skill:…``, ``activity:…``,
``ladder:…``, ``competency_types``); a null value deletes an item. Every
worker assigns itself all partitions (no consumer group), reads from the
beginning into one shared ``Catalog``, reports ``ready`` once it has reached
the end offsets it saw at start, and then keeps following: a catalog update
applies to the next statement processed, without a restart.

Processing must not start before ``ready``: a statement normalized against
an empty catalog would lose its skills, and a replay would not give the same
answers.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import TypeAdapter, ValidationError

from schemas.catalog import Catalog, CatalogItem

log = logging.getLogger(__name__)
_ITEM: TypeAdapter[CatalogItem] = TypeAdapter(CatalogItem)


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


class CatalogFollower:
    """Keeps ``catalog`` equal to the topic's latest values."""

    def __init__(self, bootstrap: str, topic: str, catalog: Catalog | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.catalog = catalog if catalog is not None else Catalog()
        self.ready = asyncio.Event()
        self.updates = 0
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self._consumer = consumer
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic) or {0}
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            pending = {tp for tp, off in end.items() if off > 0}
            if not pending:
                self.ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batch.items():
                    for record in records:
                        if apply_catalog_record(self.catalog, record.key, record.value):
                            self.updates += 1
                    if tp in pending and records and records[-1].offset + 1 >= end[tp]:
                        pending.discard(tp)
                if not self.ready.is_set():
                    for tp in list(pending):
                        if await consumer.position(tp) >= end[tp]:
                            pending.discard(tp)
                    if not pending:
                        log.info(
                            "catalog loaded: %d skills, %d activities, %d ladders",
                            len(self.catalog.skills),
                            len(self.catalog.activities),
                            len(self.catalog.ladders),
                        )
                        self.ready.set()
        finally:
            await consumer.stop()
