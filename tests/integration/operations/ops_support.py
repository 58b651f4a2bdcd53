"""Helpers for the operator-command tests: run the CLI as an operator would, and look at Kafka."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import orjson

from schemas.events import decode_learner_events
from skillstream.kafka_io import read_to_end
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import worker_groups
from skillstream.settings import Settings
from streams.offline import OfflineResult
from tools.processes import settings_env


@dataclass
class Run:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"

    __repr__ = __str__


async def cli(settings: Settings, *args: str, timeout: float = 300.0) -> Run:
    """``python -m skillstream ARGS`` with exactly ``settings``, as a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLSTREAM_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.update(settings_env(settings))
    env["COLUMNS"] = "200"

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "skillstream", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    done = await asyncio.to_thread(run)
    return Run(done.returncode, done.stdout, done.stderr)


async def wait_workers_gone(settings: Settings, timeout: float = 90.0) -> None:
    """Wait until no worker group has a member (a killed worker lingers until its session ends)."""
    deadline = time.monotonic() + timeout
    async with Cluster(settings.kafka) as cluster:
        while True:
            described = await cluster.describe_groups(worker_groups(settings))
            if not any(info.active for info in described.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"worker groups still active after {timeout}s: {described}")
            await asyncio.sleep(0.5)


async def wait_workers_joined(settings: Settings, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    async with Cluster(settings.kafka) as cluster:
        while True:
            described = await cluster.describe_groups(worker_groups(settings)[:2])
            if all(info.members for info in described.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"worker groups not joined after {timeout}s: {described}")
            await asyncio.sleep(0.5)


async def end_offset_sum(settings: Settings, topic: str) -> int:
    async with Cluster(settings.kafka) as cluster:
        tps = await cluster.partitions(topic)
        return sum((await cluster.end_offsets(tps)).values())


async def milestone_ids(settings: Settings) -> list[tuple[int, int, str]]:
    """(partition, offset, id) of every record on the milestones topic."""
    return [
        (r.partition, r.offset, orjson.loads(r.value)["id"])
        async for r in read_to_end(settings.kafka, settings.topics.milestones)
    ]


async def latest_by_key(settings: Settings, topic: str) -> dict[bytes, bytes | None]:
    """The latest value per key, as compaction keeps it (None: a tombstone)."""
    latest: dict[bytes, bytes | None] = {}
    async for r in read_to_end(settings.kafka, topic):
        if r.key is not None:
            latest[r.key] = r.value
    return latest


async def event_statement_ids(settings: Settings) -> set[str]:
    """Statement ids of every learning event produced so far."""
    ids: set[str] = set()
    async for r in read_to_end(settings.kafka, settings.topics.events):
        try:
            _, events = decode_learner_events(r.value)
        except ValueError:
            continue  # a control record
        ids.update(e.statement_id for e in events)
    return ids


async def dead_letters(settings: Settings) -> list[dict[str, object]]:
    return [
        orjson.loads(r.value)
        async for r in read_to_end(settings.kafka, settings.topics.statements_dlq)
    ]


async def describe_milestones(
    settings: Settings, ids: set[str], *references: OfflineResult
) -> list[str]:
    """``kind/level (learner)`` of each of ``ids``, from the topic or the offline references,
    to say what differs when a test fails."""
    found: dict[str, str] = {}
    for reference in references:
        for m in reference.milestones:
            if m.id in ids:
                found[m.id] = f"{m.data.kind.value}/{m.data.level} ({m.data.learner}, offline)"
    async for r in read_to_end(settings.kafka, settings.topics.milestones):
        doc = orjson.loads(r.value)
        if doc["id"] in ids:
            data = doc["data"]
            found[doc["id"]] = f"{data['kind']}/{data.get('level')} ({data['learner']})"
    return sorted(found.get(i, f"{i} (unknown)") for i in ids)
