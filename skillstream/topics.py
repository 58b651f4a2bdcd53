"""Creating skillstream's topics with the right partitions and compaction.

``skillstream topics create`` and the tests both go through ``create_topics``,
which is idempotent: a topic that already exists is left as it is (and
reported), never recreated.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topology import Topics
from skillstream.errors import ServiceUnavailable
from streams.kafka.connection import KafkaConnection, connection

COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
DEAD_LETTERS = {"max.message.bytes": str(8 * 1024 * 1024)}
"""A dead letter carries the original record base64-encoded (4/3 of its size)
plus every error: its topic takes records larger than the input topic's."""


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    config: dict[str, str]


def plan(topics: Topics) -> list[TopicPlan]:
    """Every topic skillstream uses, with its partitions and config."""
    compacted = topics.compacted()
    out = []
    for name in topics.all_names():
        # The catalog is read whole by every worker (a global table): one partition is enough.
        partitions = 1 if name == topics.catalog else topics.partitions
        config = dict(COMPACTED) if name in compacted else {}
        if name == topics.statements_dlq:
            config.update(DEAD_LETTERS)
        out.append(TopicPlan(name, partitions, config))
    return out


def changelog_plan(name: str, topics: Topics) -> TopicPlan:
    """A worker group's profile changelog: compacted, co-partitioned with learning.events."""
    return TopicPlan(name, topics.partitions, dict(COMPACTED))


async def create_topics(
    kafka: KafkaConnection | str, topics: Topics, extra: tuple[TopicPlan, ...] = ()
) -> dict[str, str]:
    """Create what is missing (skillstream's topics plus ``extra``); return {topic: status}."""
    kafka = connection(kafka)
    admin = kafka.admin(client="topics")
    try:
        await admin.start()
    except (KafkaError, OSError) as exc:
        raise kafka.unavailable(exc) from exc
    try:
        existing = set(await admin.list_topics())
        plans = [*plan(topics), *extra]
        result = {p.name: "exists" for p in plans if p.name in existing}
        wanted = [
            NewTopic(
                name=p.name,
                num_partitions=p.partitions,
                replication_factor=topics.replication_factor,
                topic_configs=p.config,
            )
            for p in plans
            if p.name not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            for name, code, *rest in response.topic_errors:
                if code == 0:
                    result[name] = "created"
                elif code == TopicAlreadyExistsError.errno:
                    result[name] = "exists"  # created by another process since the listing
                else:
                    message = rest[0] if rest else ""
                    raise ServiceUnavailable(
                        "Kafka", f"could not create topic {name!r}: error {code} {message}"
                    )
        return result
    finally:
        await admin.close()
