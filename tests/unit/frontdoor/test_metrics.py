"""The shared metrics module: the functions the worker and the front door call."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from skillstream import metrics


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name and (labels is None or s.labels == labels):
                return float(s.value)
    return 0.0


def test_dead_letter_counts_once_and_once_per_distinct_reason() -> None:
    before = sample("skillstream_dead_letters_total")
    before_type = sample("skillstream_dead_letter_reasons_total", {"reason": "type"})
    metrics.record_dead_letter(["type", "type", "required"])
    assert sample("skillstream_dead_letters_total") == before + 1
    assert sample("skillstream_dead_letter_reasons_total", {"reason": "type"}) == before_type + 1


def test_milestone_latency_lands_in_buckets() -> None:
    bucket = {"le": "0.025"}
    before = sample("skillstream_processing_latency_seconds_bucket", bucket)
    networker = sample("skillstream_milestones_total", {"kind": "networker"})
    versatile = sample("skillstream_milestones_total", {"kind": "versatile"})
    metrics.record_milestone("versatile")
    metrics.record_milestone("networker", 0.02)
    metrics.record_milestone("networker", 120.0)
    metrics.record_milestone("networker", -1.0)
    metrics.record_milestone("networker")
    assert sample("skillstream_processing_latency_seconds_bucket", bucket) == before + 2
    assert sample("skillstream_milestones_total", {"kind": "networker"}) == networker + 4
    assert sample("skillstream_milestones_total", {"kind": "versatile"}) == versatile + 1
    assert metrics.LATENCY_BUCKETS[0] == 0.005
    assert metrics.LATENCY_BUCKETS[-1] == 60.0


def test_lag_gauge_per_partition_and_cleared() -> None:
    labels = {"group": "g", "topic": "xapi.statements", "partition": "3"}
    metrics.set_lag("g", "xapi.statements", 3, 42)
    assert sample("skillstream_consumer_lag", labels) == 42
    metrics.set_lag("g", "xapi.statements", 3, -5)
    assert sample("skillstream_consumer_lag", labels) == 0
    metrics.clear_lag("g", "xapi.statements", 3)
    metrics.clear_lag("g", "xapi.statements", 3)
    body, content_type = metrics.render()
    assert 'partition="3"' not in body.decode()
    assert content_type.startswith("text/plain")


def test_statements_received_by_source() -> None:
    before = sample("skillstream_statements_received_total", {"source": "kafka"})
    metrics.record_statements_received("kafka", 10)
    metrics.record_statements_received("kafka", 0)
    assert sample("skillstream_statements_received_total", {"source": "kafka"}) == before + 10


def test_no_created_series() -> None:
    assert "_created" not in metrics.render()[0].decode()


def test_collector_pauses_land_in_their_generations_buckets() -> None:
    full, young = {"generation": "2"}, {"generation": "0"}
    count = sample("skillstream_gc_pause_seconds_count", full)
    under_half = sample("skillstream_gc_pause_seconds_bucket", {**full, "le": "0.5"})
    under_quarter = sample("skillstream_gc_pause_seconds_bucket", {**full, "le": "0.25"})
    young_count = sample("skillstream_gc_pause_seconds_count", young)
    full_sum = sample("skillstream_gc_pause_seconds_sum", full)
    young_sum = sample("skillstream_gc_pause_seconds_sum", young)
    metrics.record_collector_pause(2, 0.3)
    metrics.record_collector_pause(7, 0.3)  # no such generation: counted as the oldest
    metrics.record_collector_pause(0, -0.001)  # a clock step back: counted as no time
    assert sample("skillstream_gc_pause_seconds_count", full) == count + 2
    assert sample("skillstream_gc_pause_seconds_bucket", {**full, "le": "0.5"}) == under_half + 2
    assert sample("skillstream_gc_pause_seconds_bucket", {**full, "le": "0.25"}) == under_quarter
    assert sample("skillstream_gc_pause_seconds_count", young) == young_count + 1
    assert sample("skillstream_gc_pause_seconds_sum", full) == pytest.approx(full_sum + 0.6)
    assert sample("skillstream_gc_pause_seconds_sum", young) == young_sum
