"""A stand-in for Kafka and a check of the error body shape, for the front door tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from skillstream.errors import ServiceUnavailable
from skillstream.frontdoor.statements import Outgoing


class FakePublisher:
    """Stands in for Kafka: keeps each publish call, or fails like an unreachable broker."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Outgoing], str]] = []
        self.failure: ServiceUnavailable | None = None
        self.started = 0
        self.stopped = 0

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1

    async def publish(self, records: Sequence[Outgoing], version: str) -> None:
        if self.failure is not None:
            raise self.failure
        self.calls.append((list(records), version))

    async def check(self, timeout_s: float) -> str:
        if self.failure is not None:
            raise self.failure
        return "fake broker answers"

    @property
    def records(self) -> list[Outgoing]:
        return [r for records, _ in self.calls for r in records]


def problems_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"error", "problems"}, body
    assert isinstance(body["error"], str)
    assert body["error"]
    for problem in body["problems"]:
        assert set(problem) == {"index", "path", "message", "code"}
    problems: list[dict[str, Any]] = body["problems"]
    return problems
