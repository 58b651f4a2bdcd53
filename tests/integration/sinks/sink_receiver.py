"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that does what docs/sinks.md
tells receivers to do — verify the signature, then keep the first copy of each milestone id.

``behaviour(event_id, n)`` (n counts requests for that id, from 1) picks the answer:
"ok", "500", or "hang" (never answers until the receiver stops, so the sink times out).

``Receiver(secret, port=free_port())`` knows its URL before it listens, so a test can
point the sink at it while it is still down (connections refused) and ``start()`` it
later. Subscribers on 127.0.0.1 need ``allow_private=True`` (``Receiver.subscriber``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import SecretStr

from skillstream.settings import Webhook


@dataclass
class Receiver:
    secret: str
    behaviour: Callable[[str, int], str] = lambda _id, _n: "ok"
    accepted: list[tuple[str, str]] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    duplicates: int = 0
    port: int = 0
    url: str = ""
    _seen: set[str] = field(default_factory=set)
    _per_id: Counter[str] = field(default_factory=Counter)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def _signature_ok(self, header: str, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        stamp = parts.get("t", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._signature_ok(request.headers.get("Skillstream-Signature", ""), body):
            self.bad_signatures += 1
            return web.Response(status=401)
        event = json.loads(body)
        event_id = request.headers["Skillstream-Event-Id"]
        assert event_id == event["id"]
        self._per_id[event_id] += 1
        action = self.behaviour(event_id, self._per_id[event_id])
        self.answers[action] += 1
        if action == "500":
            return web.Response(status=500)
        if action == "hang":
            await self._release.wait()
            return web.Response(status=503)
        if event_id in self._seen:
            self.duplicates += 1
        else:
            self._seen.add(event_id)
            self.accepted.append((event["subject"], event_id))
        return web.Response(status=204)

    def __post_init__(self) -> None:
        if self.port:
            self.url = f"http://127.0.0.1:{self.port}/hooks/skillstream"

    def ids(self) -> list[str]:
        return [event_id for _, event_id in self.accepted]

    def subscriber(self, name: str) -> Webhook:
        """This receiver as a subscriber (on 127.0.0.1, so with ``allow_private``)."""
        return Webhook(name=name, url=self.url, secret=SecretStr(self.secret), allow_private=True)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/skillstream", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/skillstream"
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
