"""How big a record each topic takes, asked of the cluster rather than assumed.

Kafka refuses a record batch larger than its topic's ``max.message.bytes``
(the broker default is 1,048,588 bytes; operators often change it per topic).
A stage that sizes what it writes from a constant wedges on the first topic
configured otherwise: the producer's ``MessageSizeTooLargeError`` comes back
on every retry of the same batch. So the stages ask once, at start, and size
what they write from the answer: ingest splits a learner's events across
records, and dead letters are cut down to fit (``schemas.deadletter``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from streams.kafka.connection import KafkaConnection

log = logging.getLogger(__name__)

BROKER_DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_588
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024
"""The producers' own request limit (aiokafka's ``max_request_size``): above any topic's
``max.message.bytes`` skillstream sizes for, so the topic's limit is the one that counts."""
RECORD_OVERHEAD: Final = 1024
"""Bytes kept free in a record for the record batch header, the key and the headers."""


async def max_message_bytes(kafka: KafkaConnection, topics: Iterable[str]) -> dict[str, int]:
    """``max.message.bytes`` of each topic; the broker default for one that cannot be read."""
    names = sorted(set(topics))
    limits = dict.fromkeys(names, BROKER_DEFAULT_MAX_MESSAGE_BYTES)
    admin = kafka.admin(client="limits")
    try:
        await admin.start()
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": None})
                for name in names
            ]
        )
    except KafkaError as exc:
        log.warning(
            "cannot read max.message.bytes of %s (%s); assuming the broker default %d",
            names,
            exc,
            BROKER_DEFAULT_MAX_MESSAGE_BYTES,
        )
        return limits
    finally:
        await admin.close()
    for response in responses:
        for error, _message, _kind, name, entries in response.resources:
            for entry in entries if error == 0 else ():
                if entry[0] == "max.message.bytes" and str(entry[1]).isdigit():
                    limits[name] = int(entry[1])
    return limits


def value_budget(limit: int) -> int:
    """The largest record value that fits a topic whose ``max.message.bytes`` is ``limit``."""
    return max(min(limit, MAX_REQUEST_BYTES) - RECORD_OVERHEAD, 1024)
