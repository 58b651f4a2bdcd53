"""`skillstream forget` reaches the disk: after it, no file of the worker's state directory
holds the learner's key or their profile state — RocksDB SST files, write-ahead log,
MANIFEST, RocksDB's LOG, anything else under SKILLSTREAM_DATA_DIR.

The scan reads every file as raw bytes, and first proves it sees the learner before the
erasure (so a clean scan afterwards means the bytes are gone, not that it is blind). The
needles are the random tail of the key (SST keys are prefix-encoded, so "lrn_" may not be
spelled out), its hex (RocksDB's LOG prints keys in hex), and pieces of the learner's encoded
state that no other learner's state contains (shared skill ids would prove nothing).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiokafka.partitioner import DefaultPartitioner
from ops_support import cli, latest_by_key, wait_workers_gone, wait_workers_joined
from pipeline_support import prepare, publish, simulated, start_worker, wait_caught_up

from schemas.identity import learner_keys
from schemas.topology import changelog_topic
from skillstream.settings import Settings

WINDOW = 16


def key_needles(key: bytes) -> list[bytes]:
    tail = key[-20:]
    return [tail, tail.hex().encode(), tail.hex().upper().encode()]


def state_needles(state: bytes, others: list[bytes]) -> list[bytes]:
    """Pieces of ``state`` found in no other learner's state."""
    pieces = [state[i : i + WINDOW] for i in range(0, len(state) - WINDOW, WINDOW)]
    return [p for p in pieces if not any(p in other for other in others)]


def traces(folder: Path, needles: list[bytes]) -> dict[str, list[int]]:
    """{file: indexes of the needles it holds} over every file under ``folder``."""
    found: dict[str, list[int]] = {}
    for path in sorted(folder.rglob("*")):
        try:
            if not path.is_file():
                continue
            data = path.read_bytes()
        except FileNotFoundError:  # RocksDB deleted it meanwhile (the worker is running)
            continue
        hits = [i for i, needle in enumerate(needles) if needle in data]
        if hits:
            found[str(path.relative_to(folder))] = hits
    return found


def partition_of(key: bytes, partitions: int) -> int:
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))


async def appears(
    folder: Path, needles: list[bytes], timeout: float = 60.0
) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = traces(folder, needles)
        if found:
            return found
        await asyncio.sleep(0.5)
    return {}


async def test_forget_leaves_no_byte_of_the_learner_on_the_workers_disk(
    settings: Settings, tmp_path: Path
) -> None:
    records = simulated(learners=40, days=40, seed=35)
    changelog = changelog_topic(settings.group_id)
    partitions = settings.topics.partitions

    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    data = tmp_path / "worker"
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), [worker])
        states = {
            k: v
            for k, v in (await latest_by_key(settings, changelog)).items()
            if v is not None and k.startswith(b"lrn_")
        }
        # The learner with the biggest state, and a neighbour on the same partition.
        key = max(states, key=lambda k: len(states[k]))
        partition = partition_of(key, partitions)
        neighbour = max(
            (k for k in states if k != key and partition_of(k, partitions) == partition),
            key=lambda k: len(states[k]),
        )
        others = [v for k, v in states.items() if k != key]
        needles = key_needles(key) + state_needles(states[key], others)
        assert len(needles) > 10

        before = traces(data, needles)
        seen = {i for hits in before.values() for i in hits}
        assert 0 in seen, before  # the key...
        assert seen & set(range(3, len(needles))), before  # ...and their state, on disk
        assert any("profiles/partition-" in name for name in before), before

        erased = await cli(settings, "forget", "--key", key.decode(), "--no-sql")
        assert erased.code == 0, erased
        assert "applied" in erased.out
        # `forget` returns once the worker committed past the ERASE record: purged by then.
        assert traces(data, needles) == {}
    finally:
        worker.stop()
    await wait_workers_gone(settings)
    assert traces(data, needles) == {}  # nor once the worker closed its databases

    # A worker restoring the partition from the changelog (not cleaned yet: the learner's
    # older states, then the tombstone) purges them too, after its next batch there: here a
    # statement of another learner of that partition.
    fresh = start_worker(settings, tmp_path, "worker-fresh")
    fresh_data = tmp_path / "worker-fresh"
    try:
        await wait_workers_joined(settings)
        restored = await appears(fresh_data / "profiles", key_needles(key))
        assert restored, "the restore wrote no tombstone for the erased learner"
        await publish(settings, statements_of(settings, records, neighbour)[:1])
        await wait_caught_up(settings, len(records) + 1, [fresh])
        assert traces(fresh_data, needles) == {}
    finally:
        fresh.stop()
    await wait_workers_gone(settings)
    assert traces(fresh_data, needles) == {}


def statements_of(settings: Settings, records: list[bytes], key: bytes) -> list[bytes]:
    found = []
    for raw in records:
        try:
            actor = orjson.loads(raw)["actor"]
            keys = learner_keys(actor, settings.learner_secret_bytes)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if key.decode() in keys:
            found.append(raw)
    assert found
    return found
