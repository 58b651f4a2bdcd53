"""Fixtures for the sink integration tests: fast sink settings on the test's own topics.

The factories in tests/unit/sinks/sink_factories.py are shared with the unit
tests; that folder is put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "sinks"))

from skillstream.settings import Settings, Sinks

FAST = Sinks(
    batch_size=7,
    batch_wait_ms=100,
    retry_initial_s=0.05,
    retry_max_s=0.5,
    shutdown_grace_s=5.0,
    webhook_timeout_s=2.0,
    webhook_max_elapsed_s=10.0,
    webhook_concurrency=8,
)


@pytest.fixture
def sink_settings(settings: Settings) -> Settings:
    """The test's settings with small batches (several per test) and quick retries."""
    return settings.model_copy(update={"sinks": FAST})
