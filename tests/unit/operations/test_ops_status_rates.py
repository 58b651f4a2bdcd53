"""`skillstream status` rates: against the previous reading, or n/a with the reason."""

from __future__ import annotations

from pathlib import Path

import orjson

from skillstream.operations.status import (
    GroupStatus,
    PartitionStatus,
    Reading,
    load_previous,
    save,
    with_rates,
)


def reading(at: float, committed: list[int | None], end: list[int], group_id: str = "g") -> Reading:
    parts = tuple(
        PartitionStatus("xapi.statements", n, c, e)
        for n, (c, e) in enumerate(zip(committed, end, strict=True))
    )
    return Reading(at, "k:9092", group_id, (GroupStatus("ingest", "g-ingest", "Stable", 1, parts),))


def test_the_first_call_has_no_rates(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    now = with_rates(reading(100.0, [5, 5], [10, 10]), load_previous(path))
    assert now.previous_at is None
    assert now.groups[0].done_rate is None
    assert now.groups[0].lag == 10


def test_rates_are_the_difference_over_the_time_between_calls(tmp_path: Path) -> None:
    path = tmp_path / "state" / "status.json"
    assert save(path, reading(100.0, [5, None], [10, 10]))
    now = with_rates(reading(110.0, [25, 30], [40, 50]), load_previous(path))
    assert now.previous_at == 100.0
    group = now.groups[0]
    assert [p.done_rate for p in group.partitions] == [2.0, 3.0]  # never committed counts as 0
    assert [p.in_rate for p in group.partitions] == [3.0, 4.0]
    assert group.done_rate == 5.0
    assert group.in_rate == 7.0
    assert group.lag == 35


def test_a_rewound_group_has_no_rate(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    save(path, reading(100.0, [50, 50], [60, 60]))
    now = with_rates(reading(110.0, [0, 60], [60, 60]), load_previous(path))
    assert [p.done_rate for p in now.groups[0].partitions] == [None, 1.0]
    assert now.groups[0].done_rate is None


def test_a_reading_of_another_group_id_or_cluster_is_not_compared(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    save(path, reading(100.0, [5], [10], group_id="other"))
    assert with_rates(reading(110.0, [6], [10]), load_previous(path)).previous_at is None


def test_an_unreadable_state_file_means_no_rates(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text("{not json")
    assert load_previous(path) is None
    path.write_bytes(orjson.dumps({"version": 99}))
    assert load_previous(path) is None


def test_a_state_file_that_cannot_be_written_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert save(blocker / "status.json", reading(1.0, [1], [1])) is False


def test_report_is_json_ready() -> None:
    doc = reading(1.0, [None], [3]).report()
    assert orjson.loads(orjson.dumps(doc))["groups"][0]["partitions"][0] == {
        "topic": "xapi.statements",
        "partition": 0,
        "committed": None,
        "end": 3,
        "lag": 3,
        "done_per_s": None,
        "in_per_s": None,
    }
