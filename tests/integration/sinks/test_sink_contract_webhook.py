"""The sink contract for webhooks, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sink_contract import SinkContract, SinkHarness
from sink_receiver import Receiver

from sinks.base import Sink
from sinks.webhook import DeliveryPolicy, WebhookSink
from skillstream.settings import Settings, Webhook

SECRET = "contract-secret"


class WebhookHarness(SinkHarness):
    name = "webhook"

    def __init__(self, receiver: Receiver, settings: Settings) -> None:
        self.receiver = receiver
        self.settings = settings

    def sink(self) -> Sink:
        subscriber = Webhook(
            name="receiver", url=self.receiver.url, secret=SecretStr(SECRET), allow_private=True
        )
        return WebhookSink([subscriber], DeliveryPolicy.from_settings(self.settings.sinks))

    async def recorded(self) -> list[tuple[str, str]]:
        assert self.receiver.bad_signatures == 0
        return list(self.receiver.accepted)

    async def copies(self) -> Counter[str]:
        return Counter(self.receiver.ids())


class TestWebhookSink(SinkContract):
    @pytest.fixture
    async def harness(self, sink_settings: Settings) -> AsyncIterator[SinkHarness]:
        async with Receiver(SECRET) as receiver:
            yield WebhookHarness(receiver, sink_settings)
