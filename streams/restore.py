"""Restoring profile state from the changelog, one group of partitions per process.

Each partition has its own RocksDB database (``streams.state_store``), so partitions
restore independently. Reading a changelog is Python work per record (the Kafka
client turns fetched bytes into record objects), so one process restores at the
speed of one core; ``restore_changelog`` splits a large restore into groups of
partitions and streams each group in a child process (``python -m streams.restore``),
each writing its own partitions' databases, and sums what they restored. A small
restore stays in the calling process (a child costs about a second to start).

The child gets its instructions, the Kafka connection included, as JSON on standard
input (never on the command line, where passwords would show in ``ps``), and prints
how many records it restored. A child that fails fails the restore: the caller's
stage restarts and restores again from each database's checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.kafka.connection import KafkaConnection
from streams.state_store import StateStore

log = logging.getLogger(__name__)

Todo = dict[int, tuple[int, int]]
"""Partition -> (first offset to read, end offset) of the changelog."""

PARALLEL_ABOVE = 200_000
"""Records to restore above which the restore is split across processes."""


def cores() -> int:
    """The cores this process may run on (also the default size of a worker pool)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def split(todo: Todo, groups: int) -> list[Todo]:
    """``todo`` in at most ``groups`` groups of about as many records each (largest first)."""
    loads: list[tuple[int, Todo]] = [(0, {}) for _ in range(max(1, min(groups, len(todo))))]
    for partition, (start, end) in sorted(todo.items(), key=lambda i: i[1][0] - i[1][1]):
        index = min(range(len(loads)), key=lambda i: loads[i][0])
        load, group = loads[index]
        group[partition] = (start, end)
        loads[index] = (load + end - start, group)
    return [group for _, group in loads if group]


async def stream_changelog(
    kafka: KafkaConnection, changelog: str, store: StateStore, todo: Todo
) -> int:
    """Bring each partition's database up to its end offset; returns the records read."""
    if not todo:
        return 0
    consumer = kafka.consumer(
        client="profiles-restore",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    restored = 0
    try:
        ends = {TopicPartition(changelog, p): end for p, (_, end) in todo.items()}
        consumer.assign(list(ends))
        for tp in ends:
            consumer.seek(tp, todo[tp.partition][0])
        while ends:
            batch = await consumer.getmany(*ends, timeout_ms=1000, max_records=50_000)
            for tp, records in batch.items():
                if tp not in ends:
                    continue
                records = [r for r in records if r.offset < ends[tp]]
                if not records:
                    continue
                next_offset = records[-1].offset + 1
                restored += store.write_records(
                    tp.partition, ((r.key, r.value) for r in records), next_offset
                )
                if next_offset >= ends[tp]:
                    del ends[tp]
            for tp in list(ends):
                if await consumer.position(tp) >= ends[tp]:  # the rest was compacted away
                    store.write(tp.partition, {}, ends[tp])
                    del ends[tp]
    finally:
        await consumer.stop()
    for partition in todo:
        store.seal(partition)
    return restored


async def restore_changelog(
    kafka: KafkaConnection,
    changelog: str,
    store: StateStore,
    todo: Todo,
    processes: int | None = None,
    parallel_above: int = PARALLEL_ABOVE,
) -> int:
    """Restore ``todo``; in up to ``processes`` (default: the cores) child processes when
    it holds more than ``parallel_above`` records. Returns the records read."""
    total = sum(end - start for start, end in todo.values())
    groups = split(todo, cores() if processes is None else processes)
    if len(groups) < 2 or total <= parallel_above:
        return await stream_changelog(kafka, changelog, store, todo)
    for partition in todo:
        store.release(partition)  # each child opens its own partitions' databases
    log.info(
        "restoring %d changelog records of partitions %s in %d processes",
        total,
        sorted(todo),
        len(groups),
    )
    counts = await asyncio.gather(
        *(_child(kafka, changelog, store.root, group) for group in groups)
    )
    return sum(counts)


async def _child(kafka: KafkaConnection, changelog: str, root: Path, todo: Todo) -> int:
    orders = {
        "kafka": connection_fields(kafka),
        "changelog": changelog,
        "root": str(root),
        "todo": {str(p): list(span) for p, span in todo.items()},
        "parent": os.getpid(),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams.restore",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await child.communicate(orjson.dumps(orders))
    except BaseException:
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    if child.returncode != 0:
        raise RuntimeError(
            f"restoring partitions {sorted(todo)} of {changelog} failed in a child process "
            f"(exit {child.returncode}); its error is in the log above"
        )
    return int(out.decode().strip() or 0)


def connection_fields(kafka: KafkaConnection) -> dict[str, Any]:
    """The connection as plain JSON values, the password included (for a child process)."""
    fields = kafka.model_dump(mode="json")
    if kafka.sasl_password is not None:
        fields["sasl_password"] = kafka.sasl_password.get_secret_value()
    return fields


def _die_with(parent: int) -> None:
    """On Linux, be killed when the worker that started this restore dies: a worker started
    again must find its databases free, not held by an orphaned restore."""
    if sys.platform == "linux":
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)  # the worker is already gone


def main() -> None:
    """``python -m streams.restore``: restore the partitions named on standard input."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(message)s")
    orders = orjson.loads(sys.stdin.buffer.read())
    _die_with(int(orders["parent"]))
    kafka = KafkaConnection.model_validate(orders["kafka"])
    todo = {int(p): (int(start), int(end)) for p, (start, end) in orders["todo"].items()}
    store = StateStore(Path(orders["root"]))
    try:
        count = asyncio.run(stream_changelog(kafka, orders["changelog"], store, todo))
    finally:
        store.close()
    print(count)


if __name__ == "__main__":
    main()
