"""The Kafka publisher names the broker whenever it cannot do its job (no broker needed)."""

from __future__ import annotations

import socket

import pytest

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
