"""Shared fixtures: the real broker, unique topics per test, and the databases.

Integration tests (everything under ``tests/integration``) are marked
``integration`` automatically; they use the broker chosen by
``tools.broker.ensure_broker`` and their own topic names, so tests never
see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from schemas.topology import Topics
from skillstream.settings import Settings, load_settings
from skillstream.topics import create_topics
from tools.broker import Broker, ensure_broker, wait_for_metadata

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    found = ensure_broker()
    asyncio.run(wait_for_metadata(found.bootstrap))
    print(f"\n[skillstream] Kafka broker for this session: {found.bootstrap} ({found.origin})")
    yield found
    found.stop()


@pytest.fixture
def bootstrap(broker: Broker) -> str:
    return broker.bootstrap


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topics(run_id: str, broker: Broker) -> Iterator[Topics]:
    """A full set of topic names unique to this test; deleted afterwards with every
    other topic the test made under its run id (changelogs, sink topics)."""
    yield Topics(partitions=4).prefixed(f"t{run_id}.")
    asyncio.run(_delete_topics_of(broker.bootstrap, run_id))


async def _delete_topics_of(bootstrap: str, run_id: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if run_id in t]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture
async def created_topics(bootstrap: str, topics: Topics) -> AsyncIterator[Topics]:
    await create_topics(bootstrap, topics)
    return topics


@pytest.fixture
def settings(bootstrap: str, topics: Topics, run_id: str, tmp_path: Path) -> Settings:
    """Settings for one test: its broker, its topics, its group, its state directory."""
    return load_settings(
        kafka={"bootstrap_servers": bootstrap},
        topics=topics.model_dump(),
        group_id=f"skillstream-test-{run_id}",
        data_dir=tmp_path / "worker",
        database_url=f"sqlite:///{tmp_path / 'skillstream.db'}",
    )


# --- databases -------------------------------------------------------------------------------


def _postgres_base_url() -> str | None:
    return os.environ.get("SKILLSTREAM_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = _postgres_base_url()
    if url is None:
        if os.environ.get("SKILLSTREAM_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "SKILLSTREAM_REQUIRE_POSTGRES=1 but SKILLSTREAM_TEST_DATABASE_URL is not set"
            )
        pytest.skip(
            "PostgreSQL not configured: set SKILLSTREAM_TEST_DATABASE_URL "
            "(bash .ci/run starts one and sets it)"
        )
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str, run_id: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = make_url(postgres_server_url)
    name = f"skillstream_test_{run_id}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sink.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each SQL test runs on SQLite and on real PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run the long fault-injection runs (make chaos)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "slow" in item.keywords and not item.config.getoption("--run-slow"):
        pytest.skip("long fault-injection run: `make chaos` runs it")
