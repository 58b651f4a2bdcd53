"""Kafka's default partitioning of keyed records, with the key hash remembered.

aiokafka computes murmur2 in pure Python for every keyed record it sends;
the stages send several records per learner per batch (events, milestones,
snapshot), always under the same few hundred thousand learner keys. This
partitioner gives exactly the partitions of aiokafka's (and the Java
client's) default partitioner, so records land where any other Kafka
client would put them, and hashes each key once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=1 << 18)
def _positive_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def keyed_partitioner(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """``AIOKafkaProducer(partitioner=...)``: murmur2 of the key modulo the partition count."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_positive_hash(key) % len(all_partitions)]
