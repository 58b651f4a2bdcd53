"""Profile-state restore split across processes (``streams.restore``) against the real broker:
the databases the child processes write hold exactly what an in-process restore writes."""

from __future__ import annotations

from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from skillstream.settings import Settings
from streams.restore import restore_changelog
from streams.state_store import StateStore

PARTITIONS = 4


async def fill_changelog(
    settings: Settings, topic: str
) -> tuple[dict[int, int], dict[int, dict[bytes, bytes]]]:
    """1,200 records over 4 partitions: puts, overwrites and deletes; returns the end offsets
    and what each partition holds in the end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = settings.kafka.producer(client="test", acks="all")
    await producer.start()
    ends: dict[int, int] = {}
    final: dict[int, dict[bytes, bytes]] = {p: {} for p in range(PARTITIONS)}
    try:
        for n in range(1200):
            key = f"lrn_{n % 300:04d}".encode()
            value = None if n % 7 == 0 else f"state {n} ".encode() * 20
            meta = await (await producer.send(topic, value, key=key, partition=n % PARTITIONS))
            ends[meta.partition] = meta.offset + 1
            if value is None:
                final[meta.partition].pop(key, None)
            else:
                final[meta.partition][key] = value
    finally:
        await producer.stop()
    return ends, final


def contents(store: StateStore) -> dict[int, dict[bytes, bytes]]:
    return {
        p: {k: store.get(p, k) or b"" for k in store.keys(p)}
        | {b"@": str(store.checkpoint(p)).encode()}
        for p in range(PARTITIONS)
    }


async def test_a_restore_split_across_processes_writes_what_one_process_writes(
    settings: Settings, run_id: str, tmp_path: Path
) -> None:
    topic = f"t{run_id}-restore-changelog"
    ends, final = await fill_changelog(settings, topic)
    todo = {p: (0, end) for p, end in ends.items()}
    here, split_up = StateStore(tmp_path / "here"), StateStore(tmp_path / "children")
    try:
        one = await restore_changelog(settings.kafka, topic, here, todo, processes=1)
        many = await restore_changelog(
            settings.kafka, topic, split_up, todo, processes=2, parallel_above=0
        )
        assert one == many == 1200
        assert contents(split_up) == contents(here)
        assert all(contents(here)[p][b"@"] == str(ends[p]).encode() for p in ends)
        # Deletes restored as deletes, overwrites as the later value.
        for p in range(PARTITIONS):
            assert {k: v for k, v in contents(split_up)[p].items() if k != b"@"} == final[p]
        assert sum(map(len, final.values())) < 300  # some keys were deleted last
    finally:
        here.close()
        split_up.close()
