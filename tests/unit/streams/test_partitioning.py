"""The remembering partitioner puts every key where Kafka's default partitioner does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.partitioning import keyed_partitioner


@given(key=st.binary(min_size=0, max_size=64), count=st.integers(min_value=1, max_value=64))
def test_same_partition_as_the_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert keyed_partitioner(key, partitions, partitions) == expected
    assert keyed_partitioner(key, partitions, partitions) == expected  # remembered: the same


def test_unkeyed_records_go_to_an_available_partition() -> None:
    for _ in range(50):
        assert keyed_partitioner(None, [0, 1, 2, 3], [2]) == 2
    assert keyed_partitioner(None, [0, 1, 2], []) in {0, 1, 2}
