"""The worker's collector set-up (``Runtime.watch_collector``), which the worker command
calls once its startup is loaded: collections timed into the pause metric, once."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from skillstream import metrics
from skillstream.config import load_rules, load_vocabulary
from skillstream.settings import load_settings
from skillstream.worker import Runtime


def full_collections() -> float:
    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == "skillstream_gc_pause_seconds_count" and s.labels == {"generation": "2"}:
                return float(s.value)
    raise AssertionError("the worker's metrics have no full-collection pause count")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    before = gc.get_threshold()
    made = Runtime(load_settings(data_dir=tmp_path), load_rules(None), load_vocabulary(None))
    yield made
    if made.pauses is not None:
        made.pauses.stop()
    gc.unfreeze()
    gc.set_threshold(*before)


def test_every_collection_of_the_worker_is_timed_into_the_pause_metric(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    assert runtime.pauses is None
    watch = runtime.watch_collector()
    assert watch in gc.callbacks
    assert runtime.watch_collector() is watch
    assert gc.callbacks.count(watch) == 1
    before = full_collections()
    gc.collect()
    assert full_collections() == before + 1
    with caplog.at_level(logging.WARNING, logger="streams.heap"):
        runtime.report_progress()  # nothing long yet: no warning
        assert caplog.records == []
        watch.long_s = 0.0  # every collection is long from here on
        gc.collect()
        runtime.report_progress()  # the progress line reports it
    [warning] = [r.getMessage() for r in caplog.records]
    assert "the cyclic garbage collector stopped this process" in warning
    assert "SKILLSTREAM_PROFILE_CACHE" in warning
