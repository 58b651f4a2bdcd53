"""What reading a record costs the event loop, per Kafka client: ``python -m tools.client_bench``.

The hot stages read through ``streams.kafka.consumer.RdConsumer`` (librdkafka); the rest of
skillstream reads through aiokafka. This writes ``--records`` records of ``--size`` bytes
(keyed over 2,000 learners, one header, like ingest's input) to a new topic of the local
broker, then reads all of them with each client in turn, ``--repeat`` times, touching the
four fields ingest reads (value, key, timestamp, headers), and prints for each read:

- CPU of the event loop's thread per record (``time.thread_time``): what the stages'
  Python work competes with;
- CPU of the whole process per record (librdkafka's own threads included);
- records per second.

The broker is the one ``make kafka-up`` starts (``--bootstrap`` to name another); the topic
is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import uuid
from typing import Any

from aiokafka.admin import NewTopic

from streams.kafka.batch_loop import Produce
from streams.kafka.connection import KafkaConnection
from streams.kafka.consumer import RdConsumer
from streams.kafka.producer import RdProducer
from streams.membership import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from tools.bench import RAW_READ_OPTIONS

CLIENTS = ("aiokafka", "librdkafka")


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _consumer(kafka: KafkaConnection, client: str, topic: str) -> Any:
    group = f"client-bench-{uuid.uuid4().hex[:8]}"
    if client == "aiokafka":
        return kafka.consumer(topic, client="bench", group_id=group, **RAW_READ_OPTIONS)
    return RdConsumer(
        kafka,
        "bench",
        topic,
        group_id=group,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )


async def _read_all(consumer: Any, count: int) -> tuple[float, float, float]:
    """(loop-thread µs per record, process µs per record, records per second), timed from
    the first record on (joining the group is not the client's reading cost)."""
    got = 0
    while not got:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        got = sum(len(records) for records in batch.values())
    thread0, process0, wall0 = time.thread_time(), _process_cpu(), time.perf_counter()
    read = 0
    while got + read < count:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batch.values():
            for r in records:
                r.value, r.key, r.timestamp, r.headers  # noqa: B018 - what ingest reads
            read += len(records)
    thread1, process1, wall1 = time.thread_time(), _process_cpu(), time.perf_counter()
    return (
        1e6 * (thread1 - thread0) / read,
        1e6 * (process1 - process0) / read,
        read / (wall1 - wall0),
    )


async def run(bootstrap: str, records: int, size: int, repeat: int) -> dict[str, list[Any]]:
    kafka = KafkaConnection(bootstrap_servers=bootstrap)
    topic = f"client-bench-{uuid.uuid4().hex[:8]}"
    admin = kafka.admin(client="bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])
    finally:
        await admin.close()
    results: dict[str, list[Any]] = {client: [] for client in CLIENTS}
    try:
        producer = RdProducer(kafka, "bench")
        await producer.start()
        try:
            value = b"x" * size
            for start in range(0, records, 10_000):
                batch = [
                    Produce(topic, value, key=b"lrn_%d" % (n % 2000), headers=[("h", b"1")])
                    for n in range(start, min(records, start + 10_000))
                ]
                await (await producer.send_many(batch))
        finally:
            await producer.stop()
        for repetition in range(repeat):
            for client in CLIENTS:
                consumer = _consumer(kafka, client, topic)
                await consumer.start()
                try:
                    figures = await _read_all(consumer, records)
                finally:
                    await consumer.stop()
                results[client].append(figures)
                print(
                    f"[{repetition + 1}/{repeat}] {client:10s} event loop "
                    f"{figures[0]:.2f} µs/record, process {figures[1]:.2f} µs/record, "
                    f"{figures[2]:,.0f} records/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        admin = kafka.admin(client="bench")
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.client_bench",
        description="CPU per record read, aiokafka against RdConsumer (librdkafka), "
        "on the local broker. Prints one line per read and the medians.",
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="the broker to use")
    parser.add_argument("--records", type=int, default=200_000, help="records to read")
    parser.add_argument("--size", type=int, default=660, help="bytes per record value")
    parser.add_argument("--repeat", type=int, default=3, help="reads per client")
    args = parser.parse_args(argv)
    if args.records < 10_000 or args.size < 1 or args.repeat < 1:
        parser.error("--records takes at least 10000, --size and --repeat at least 1")
    results = asyncio.run(run(args.bootstrap, args.records, args.size, args.repeat))
    print(f"{'client':12s} {'event loop':>18s} {'process':>18s} {'records/s':>12s}  (medians)")
    for client, runs in results.items():
        loop_us, process_us, rate = (statistics.median(f[i] for f in runs) for i in range(3))
        print(f"{client:12s} {loop_us:12.2f} µs/rec {process_us:12.2f} µs/rec {rate:12,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
