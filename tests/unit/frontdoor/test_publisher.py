"""The Kafka publisher names the broker whenever it cannot do its job, and replaces a
producer that can never deliver again (no broker needed: fake producers)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, OutOfOrderSequenceNumber

from skillstream.errors import ServiceUnavailable
from skillstream.frontdoor.publisher import KafkaPublisher
from skillstream.frontdoor.statements import Outgoing


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def test_start_without_a_broker_names_it() -> None:
    bootstrap = closed_port()
    publisher = KafkaPublisher(bootstrap, "xapi.statements", timeout_s=1)
    with pytest.raises(ServiceUnavailable) as caught:
        await publisher.start()
    assert bootstrap in str(caught.value)
    assert caught.value.exit_code == 3


async def test_publish_and_check_before_start_name_the_broker() -> None:
    publisher = KafkaPublisher("10.0.0.9:9092", "xapi.statements")
    with pytest.raises(ServiceUnavailable, match=r"10\.0\.0\.9:9092"):
        await publisher.publish([Outgoing("id", b"{}", None)], "2.0.0")
    with pytest.raises(ServiceUnavailable, match=r"10\.0\.0\.9:9092"):
        await publisher.check(1.0)
    await publisher.stop()


# --- a producer that hits a fatal error is replaced (issue 11, item 3) ---------------------------


class FakeMetadata:
    def __init__(self, topic: str, partitions: int = 4, leaderless: int = 0) -> None:
        self.topic = topic
        self.partitions = set(range(partitions))
        self.led = set(range(partitions - leaderless))

    def topics(self) -> set[str]:
        return {self.topic}

    def brokers(self) -> set[int]:
        return {1}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions if topic == self.topic else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.led if topic == self.topic else None


class FakeClient:
    def __init__(self, topic: str) -> None:
        self.metadata = FakeMetadata(topic)

    async def fetch_all_metadata(self) -> FakeMetadata:
        return self.metadata


class FakeSender:
    def __init__(self) -> None:
        self.sender_task: asyncio.Future[None] | None = None


class FakeProducer:
    """AIOKafkaProducer's shape: ``send`` answers a future settled as ``mode`` says.

    ``ok``: acknowledged; ``fatal``: fails with OutOfOrderSequenceNumber (what a broker
    restart left aiokafka with); ``hang``: never acknowledged; ``fatal-then-hang``: the
    first record fails, every other one hangs.
    """

    def __init__(self, topic: str, mode: str = "ok", fail_start: bool = False) -> None:
        self.mode = mode
        self.fail_start = fail_start
        self.client = FakeClient(topic)
        self._sender = FakeSender()
        self.sent: list[bytes] = []
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self.fail_start:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")
        self.started = True
        self._sender.sender_task = asyncio.get_running_loop().create_future()

    async def stop(self) -> None:
        self.stopped = True
        task = self._sender.sender_task
        if task is not None and not task.done():
            task.cancel()

    def die(self, exc: BaseException) -> None:
        """The background sender task ends with ``exc``, as aiokafka's does on a bug."""
        assert self._sender.sender_task is not None
        self._sender.sender_task.set_exception(exc)

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        first = not self.sent
        self.sent.append(value)
        if self.mode == "ok":
            future.set_result("metadata")
        elif self.mode == "fatal" or (self.mode == "fatal-then-hang" and first):
            asyncio.get_running_loop().call_later(
                0.05, future.set_exception, OutOfOrderSequenceNumber()
            )
        return future


class Factory:
    """Hands out the producers of ``plan`` in turn (then healthy ones), recording each."""

    def __init__(self, topic: str, plan: list[FakeProducer]) -> None:
        self.topic = topic
        self.plan = plan
        self.made: list[FakeProducer] = []

    def __call__(self) -> FakeProducer:
        producer = self.plan.pop(0) if self.plan else FakeProducer(self.topic)
        self.made.append(producer)
        return producer


TOPIC = "xapi.statements"
RECORD = Outgoing("id-1", b'{"id": "id-1"}', b"lrn_1")


def fake_publisher(
    plan: list[FakeProducer], timeout_s: float = 5.0
) -> tuple[KafkaPublisher, Factory]:
    factory = Factory(TOPIC, plan)
    publisher = KafkaPublisher(
        "broker-a:9092",
        TOPIC,
        timeout_s=timeout_s,
        producer_factory=factory,
        restart_backoff_s=0.01,
        restart_backoff_max_s=0.04,
    )
    return publisher, factory


async def replaced(publisher: KafkaPublisher, times: int = 1, within_s: float = 5.0) -> None:
    """Wait (bounded) until the publisher has replaced its producer ``times`` times."""
    async with asyncio.timeout(within_s):
        while publisher.replacements < times or not publisher.healthy_producer:  # noqa: ASYNC110
            await asyncio.sleep(0.005)  # the publisher exposes no event for it: poll


async def test_out_of_order_sequence_number_replaces_the_producer() -> None:
    publisher, factory = fake_publisher([FakeProducer(TOPIC, "fatal")])
    await publisher.start()
    with pytest.raises(ServiceUnavailable) as caught:
        await publisher.publish([RECORD], "2.0.0")
    assert "OutOfOrderSequenceNumber" in str(caught.value)
    assert "being replaced" in str(caught.value)
    assert "retry" in str(caught.value)
    await replaced(publisher)
    await publisher.publish([RECORD], "2.0.0")  # the fresh producer delivers
    assert len(factory.made) == 2
    first, second = factory.made
    assert first.stopped
    assert second.sent == [RECORD.value]
    assert "ready" in await publisher.check(1.0)
    await publisher.stop()
    assert second.stopped


async def test_without_replacement_every_later_publish_would_fail() -> None:
    """Control: the fault is sticky in the producer itself (what the tester saw for minutes)."""
    producer = FakeProducer(TOPIC, "fatal")
    await producer.start()
    for _ in range(3):
        with pytest.raises(OutOfOrderSequenceNumber):
            await (await producer.send(TOPIC, b"{}"))


async def test_requests_waiting_on_a_broken_producer_answer_503_at_once() -> None:
    publisher, factory = fake_publisher([FakeProducer(TOPIC, "fatal-then-hang")], timeout_s=30)
    await publisher.start()
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(publisher.publish([RECORD], "2.0.0") for _ in range(20)), return_exceptions=True
        ),
        timeout=5,  # far less than the 30 s publish timeout: nobody waited for it
    )
    assert all(isinstance(o, ServiceUnavailable) for o in outcomes), outcomes
    assert all("being replaced" in str(o) for o in outcomes)
    await replaced(publisher)
    assert len(factory.made) == 2, "one replacement for twenty failed requests"
    await publisher.stop()


async def test_new_requests_are_503_while_the_replacement_cannot_connect() -> None:
    down = [FakeProducer(TOPIC, fail_start=True) for _ in range(3)]
    publisher, factory = fake_publisher([FakeProducer(TOPIC, "fatal"), *down])
    await publisher.start()
    with pytest.raises(ServiceUnavailable):
        await publisher.publish([RECORD], "2.0.0")
    with pytest.raises(ServiceUnavailable, match="being replaced"):
        await publisher.publish([RECORD], "2.0.0")  # answered at once, no producer to use
    with pytest.raises(ServiceUnavailable, match="being replaced"):
        await publisher.check(1.0)
    await replaced(publisher)
    assert len(factory.made) == 5, "three failed starts, then a working producer"
    assert all(p.stopped for p in down), "a producer that could not start is closed"
    await publisher.publish([RECORD], "2.0.0")
    await publisher.stop()


async def test_a_dead_sender_task_replaces_the_producer() -> None:
    publisher, factory = fake_publisher([])
    await publisher.start()
    factory.made[0].die(KafkaError("Unexpected error during batch delivery"))
    await replaced(publisher)
    assert factory.made[0].stopped
    await publisher.publish([RECORD], "2.0.0")
    assert factory.made[1].sent == [RECORD.value]
    await publisher.stop()


async def test_health_says_unavailable_after_a_failed_publish_until_one_succeeds() -> None:
    publisher, factory = fake_publisher([FakeProducer(TOPIC, "hang")], timeout_s=0.1)
    await publisher.start()
    assert "ready" in await publisher.check(1.0)
    with pytest.raises(ServiceUnavailable, match="not acknowledged"):
        await publisher.publish([RECORD], "2.0.0")
    with pytest.raises(ServiceUnavailable, match="last publish failed"):
        await publisher.check(1.0)
    factory.made[0].mode = "ok"
    await publisher.publish([RECORD], "2.0.0")
    assert "last publish acknowledged" in await publisher.check(1.0)
    assert len(factory.made) == 1, "a broker that is slow is not a broken producer"
    await publisher.stop()


async def test_health_says_unavailable_when_a_partition_has_no_leader() -> None:
    publisher, factory = fake_publisher([])
    await publisher.start()
    factory.made[0].client.metadata = FakeMetadata(TOPIC, partitions=4, leaderless=1)
    with pytest.raises(ServiceUnavailable, match="1 of 4 partition"):
        await publisher.check(1.0)
    await publisher.stop()


async def test_stop_during_a_replacement_leaves_no_producer_open() -> None:
    down = [FakeProducer(TOPIC, fail_start=True) for _ in range(50)]
    publisher, factory = fake_publisher([FakeProducer(TOPIC, "fatal"), *down])
    await publisher.start()
    with pytest.raises(ServiceUnavailable):
        await publisher.publish([RECORD], "2.0.0")
    await asyncio.sleep(0.05)
    await publisher.stop()
    made = len(factory.made)
    await asyncio.sleep(0.1)
    assert len(factory.made) == made, "no attempt after stop"
    assert all(p.stopped or not p.started for p in factory.made)
