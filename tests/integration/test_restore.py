"""Profile-state restore from the changelog (``streams.restore``) against the real broker:
what an in-process restore writes, what the child processes of a split restore write, a
changelog whose last offsets hold no record, and a restore cancelled halfway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pipeline_support import assert_restored, fill_changelog, store_contents

from skillstream.settings import Settings
from streams.restore import read_changelog, restore_changelog, stream_changelog
from streams.state_store import StateStore


async def test_a_restore_split_across_processes_writes_what_one_process_writes(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    topic = f"t{run_id}-restore-changelog"
    ends, final = await fill_changelog(settings.kafka, topic)
    todo = {p: (0, end) for p, end in ends.items()}
    here, split_up = StateStore(tmp_path / "here"), StateStore(tmp_path / "children")
    try:
        one = await restore_changelog(settings.kafka, topic, here, todo, processes=1)
        many = await restore_changelog(
            settings.kafka, topic, split_up, todo, processes=2, parallel_above=0
        )
        assert one == many == 1200
        assert store_contents(split_up) == store_contents(here)
        # Deletes restored as deletes, overwrites as the later value.
        assert_restored(here, final, ends)
        assert sum(map(len, final.values())) < 300  # some keys were deleted last
    finally:
        here.close()
        split_up.close()


async def test_a_restore_continues_from_each_partitions_checkpoint(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    topic = f"t{run_id}-restore-resumed"
    ends, final = await fill_changelog(settings.kafka, topic)
    store = StateStore(tmp_path / "resumed")
    try:
        halves = {p: (0, end // 2) for p, end in ends.items()}
        first = read_changelog(settings.kafka, topic, store, halves)
        rest = {p: (store.checkpoint(p), end) for p, end in ends.items()}
        assert all(start == ends[p] // 2 for p, (start, _) in rest.items())
        second = read_changelog(settings.kafka, topic, store, rest)
        assert first + second == 1200
        assert_restored(store, final, ends)
    finally:
        store.close()


async def test_offsets_holding_no_record_at_the_end_are_read_past(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    """Written in transactions, each partition ends in a commit marker: an offset no consumer
    ever receives. The restore still reaches the end offset instead of waiting for it."""
    topic = f"t{run_id}-restore-markers"
    ends, final = await fill_changelog(settings.kafka, topic, transactional=True)
    store = StateStore(tmp_path / "markers")
    try:
        todo = {p: (0, end) for p, end in ends.items()}
        assert sum(end for end in ends.values()) > 1200  # markers take offsets
        restored = await asyncio.wait_for(stream_changelog(settings.kafka, topic, store, todo), 60)
        assert restored == 1200
        assert_restored(store, final, ends)
    finally:
        store.close()


async def test_a_cancelled_restore_stops_reading_and_keeps_what_it_wrote(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    topic = f"t{run_id}-restore-cancelled"
    ends, _ = await fill_changelog(settings.kafka, topic)
    store = StateStore(tmp_path / "cancelled")
    try:
        # An end offset the changelog never reaches: the read would wait for it for ever.
        todo = {p: (0, end + 1_000) for p, end in ends.items()}
        reading = asyncio.ensure_future(stream_changelog(settings.kafka, topic, store, todo))
        deadline = time.monotonic() + 60
        while not all(store.checkpoint(p) == end for p, end in ends.items()):
            assert time.monotonic() < deadline, "the restore did not read what there is"
            await asyncio.sleep(0.1)
        reading.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert time.monotonic() - started < 5  # the reading thread was stopped, not waited out
        assert all(store.checkpoint(p) == end for p, end in ends.items())
    finally:
        store.close()
