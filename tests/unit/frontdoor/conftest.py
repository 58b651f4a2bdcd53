"""Front door unit fixtures: the app over httpx's ASGI transport, with a fake publisher.

No broker and no server: ``FakePublisher`` records what would have been
produced, or raises what Kafka would have raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from frontdoor_builders import PASSWORD, USERNAME
from frontdoor_fakes import FakePublisher

from skillstream.frontdoor import create_app
from skillstream.settings import Settings, load_settings


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def front_settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'frontdoor.db'}",
        http_username=USERNAME,
        http_password=PASSWORD,
    )


@pytest.fixture
async def client(
    front_settings: Settings, publisher: FakePublisher
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(front_settings, publisher=publisher, max_body_bytes=2_000_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://frontdoor.test", auth=(USERNAME, PASSWORD)
    ) as c:
        yield c
