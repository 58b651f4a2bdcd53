"""Front door integration fixtures: a real uvicorn server on a free localhost port.

The server (``frontdoor_server.py``) serves the test's own topics on the real
broker. The builders in tests/unit/frontdoor are shared; that folder is put
on the import path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "frontdoor"))

from frontdoor_builders import PASSWORD, USERNAME
from frontdoor_server import RunningServer, start_server

from skillstream.settings import Settings


@pytest.fixture
def auth() -> tuple[str, str]:
    return (USERNAME, PASSWORD)


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    """The front door on the test's topics, its database an (empty) SQLite file."""
    running = start_server(settings)
    yield running
    running.stop()
