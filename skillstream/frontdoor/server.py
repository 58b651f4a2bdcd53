"""The front door's HTTP server: uvicorn (h11) with deadlines, so slow clients are dropped.

uvicorn bounds the size of a request head (``h11_max_incomplete_event_size``)
and the idle time between requests (``timeout_keep_alive``), but not the time
a client takes to send its request head: a connection that sends half a head,
or one byte after a keep-alive pause (which cancels the keep-alive timer), is
held for as long as the client likes, and a thousand of them are a thousand
open sockets. :class:`DeadlineH11Protocol` adds that deadline:

* a new connection must deliver a complete request head within
  ``header_timeout_s`` (:data:`HEADER_TIMEOUT_S`), and so must a connection
  after each response (the keep-alive timer, :data:`KEEP_ALIVE_S`, closes an
  idle one sooner); otherwise it is closed, without an answer;
* while a request is being handled the deadline is off: the body is the app's
  to read, within its own deadline (``app.BODY_TIMEOUT_S``, 408 past it), and
  a response can take the publish timeout;
* after a response, a client still sending a body nobody reads (the request
  was refused before its body was needed) is closed at the next deadline.

So a slow client holds a connection at most ``header_timeout_s`` while sending
its head, ``body_timeout_s`` while sending its body, and ``header_timeout_s``
after its answer. Everything else is uvicorn's h11 protocol as it is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

logger: Final = logging.getLogger("skillstream.frontdoor.server")

HEADER_TIMEOUT_S: Final = 10.0
"""Seconds a connection has to send a complete request head (``serve --header-timeout``)."""
KEEP_ALIVE_S: Final = 5
"""Seconds an idle keep-alive connection is kept after a response."""
MAX_HEAD_BYTES: Final = 16 * 1024
"""The largest request head (request line and headers) read; larger is 400 and closed."""


class FrontDoorConfig(uvicorn.Config):
    """uvicorn's configuration plus the request-head deadline."""

    header_timeout_s: float = HEADER_TIMEOUT_S


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (module docstring)."""

    _head_deadline: asyncio.TimerHandle | None = None

    @property
    def _header_timeout_s(self) -> float:
        return float(getattr(self.config, "header_timeout_s", HEADER_TIMEOUT_S))

    def _handling(self) -> bool:
        """A request's head has arrived and its response is not complete."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self._header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _expired(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or self._handling():
            return
        logger.debug(
            "closing a connection from %s: no complete request head within %gs",
            f"{self.client[0]}:{self.client[1]}" if self.client else "?",
            self._header_timeout_s,
        )
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._handling():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._handling():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def server_config(
    app: Any,
    host: str,
    port: int,
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    keep_alive_s: int = KEEP_ALIVE_S,
) -> FrontDoorConfig:
    """uvicorn's configuration for the front door ``app`` on ``host:port``.

    Logging is the front door's own (``access.py``), the lifespan runs the publisher.
    """
    config = FrontDoorConfig(
        app,
        host=host,
        port=port,
        http=DeadlineH11Protocol,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=keep_alive_s,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    config.header_timeout_s = header_timeout_s
    return config
