"""A large restore is split into groups of partitions of about as many records each."""

from __future__ import annotations

from streams.restore import split


def test_partitions_are_split_into_groups_of_about_as_many_records() -> None:
    todo = {0: (0, 900), 1: (0, 100), 2: (50, 550), 3: (0, 450)}
    groups = split(todo, 2)
    assert len(groups) == 2
    assert sorted(p for g in groups for p in g) == [0, 1, 2, 3]
    loads = sorted(sum(end - start for start, end in g.values()) for g in groups)
    assert loads == [950, 1000]
    assert len(split(todo, 8)) == 4  # never more groups than partitions
    assert split({}, 2) == []
