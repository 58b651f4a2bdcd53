"""Support for the end-to-end pipeline tests: run workers, wait for them, read results."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from skillstream.kafka_io import read_to_end
from skillstream.lag import total_lag
from skillstream.processes import ManagedProcess, free_port, settings_env
from skillstream.publishing import publish_records
from skillstream.settings import Settings
from skillstream.simulate import Simulation
from streams.app import pipeline_groups
from streams.offline import OfflineResult, run_offline


def simulated(learners: int, days: int, seed: int) -> list[bytes]:
    return list(Simulation(learners, days, seed))


def offline_reference(settings: Settings, records: list[bytes]) -> OfflineResult:
    return run_offline(
        records,
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(settings.rules_file),
        secret=settings.learner_secret_bytes,
        default_version=settings.xapi_version,
    )


async def prepare(settings: Settings) -> None:
    await publish_catalog(settings, SAMPLE_CATALOG)


async def publish(settings: Settings, records: list[bytes]) -> None:
    await publish_records(settings, records)


def start_worker(settings: Settings, tmp: Path, name: str = "worker") -> ManagedProcess:
    env = settings_env(settings)
    env["SKILLSTREAM_DATA_DIR"] = str(tmp / name)
    env["SKILLSTREAM_WORKER_WEB_PORT"] = str(free_port())
    return ManagedProcess(name, ["worker"], env, tmp / f"{name}.log").start()


async def wait_caught_up(
    settings: Settings,
    expected_inputs: int,
    workers: list[ManagedProcess],
    timeout: float = 240.0,
    settle: float = 4.0,
) -> None:
    """Wait until every stage has committed everything, and stays so for ``settle`` seconds."""
    groups = pipeline_groups(settings)
    bootstrap = settings.kafka.bootstrap_servers
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        for w in workers:
            if not w.running:
                raise AssertionError(f"{w.name} exited:\n{w.log_tail()}")
        lag = await total_lag(bootstrap, groups)
        ingested = await committed_on(settings, groups[0])
        if lag == 0 and ingested >= expected_inputs:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle and await total_lag(bootstrap, groups) == 0:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.5)
    logs = "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in workers)
    raise AssertionError(f"pipeline did not catch up in {timeout}s (lag {lag})\n{logs}")


async def committed_on(settings: Settings, group_topic: tuple[str, str]) -> int:
    from skillstream.lag import group_lag

    parts = await group_lag(settings.kafka.bootstrap_servers, *group_topic)
    return sum(p.committed or 0 for p in parts)


@dataclass
class StreamResult:
    milestone_ids: set[str]
    milestone_records: int
    profiles: dict[str, dict[str, object]]
    dead_letters: list[dict[str, object]]


async def read_results(settings: Settings) -> StreamResult:
    bootstrap = settings.kafka.bootstrap_servers
    ids: set[str] = set()
    n = 0
    async for r in read_to_end(bootstrap, settings.topics.milestones):
        ids.add(orjson.loads(r.value)["id"])
        n += 1
    profiles: dict[str, dict[str, object]] = {}
    async for r in read_to_end(bootstrap, settings.topics.profiles):
        if r.value is None:
            profiles.pop(r.key.decode(), None)
            continue
        doc = orjson.loads(r.value)
        profiles[doc["learner"]] = doc  # the latest record per key, as compaction keeps
    letters = [
        orjson.loads(r.value) async for r in read_to_end(bootstrap, settings.topics.statements_dlq)
    ]
    return StreamResult(ids, n, profiles, letters)


def offline_profiles(result: OfflineResult) -> dict[str, dict[str, object]]:
    return {k: orjson.loads(v.model_dump_json()) for k, v in result.profiles.items()}
