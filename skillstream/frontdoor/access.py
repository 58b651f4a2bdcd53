"""One log line and two metrics per request, and the xAPI version header on every xAPI answer.

A plain ASGI middleware (no per-request task or body buffering, unlike
Starlette's ``BaseHTTPMiddleware``), so it costs microseconds on the hot POST.

The line goes to the ``skillstream.frontdoor.access`` logger at INFO with the
fields ``method``, ``path``, ``status``, ``statements`` (how many the body
held; absent for requests without statements) and ``duration_ms`` as
``extra``, so the JSON formatter of ``skillstream.logs`` writes them as keys;
the human format shows the same in the message. Paths hold no secrets: learner
keys are pseudonymous and query strings are left out, so the ``agent``
parameter of the learner queries (an e-mail address, an account) is never
written. A path that holds something else where a learner key belongs (a
segment under ``/learners/`` other than a key-shaped ``lrn_…`` token,
``profile`` or ``milestones``), or any segment with an ``@``, is logged with that
segment replaced by ``(masked)`` (:func:`logged_path`): an operator who puts an
e-mail address in the path must not leave it in the log. What a client sent
is written escaped: a control or other unprintable character in the path
(``%0a`` arrives decoded as a line feed) or the method is written as the
percent-encoding of its UTF-8 bytes (``%0A``), so a request cannot add a line
of its own to the log (:func:`printable`).

The metrics (``skillstream.metrics``) get the route template, never the path,
and bound the method and status labels, so no request grows ``/metrics``.

Every response under ``/xapi/`` carries ``X-Experience-API-Version``: the
version the request asked for when it is supported (``1.0.3`` or ``2.0.0``),
else the configured default, as the Statement API asks of a receiver.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.xapi import resolve_version
from skillstream import metrics
from skillstream.frontdoor.statements import RESPONSE_VERSION

logger: Final = logging.getLogger("skillstream.frontdoor.access")

_VERSION_HEADER_LOWER: Final = b"x-experience-api-version"
_LEARNERS: Final = "/learners/"
_LEARNER_SEGMENT_RE: Final = re.compile(r"learners|profile|milestones|lrn_[a-z0-9_]*")
MASKED: Final = "(masked)"


def printable(text: str) -> str:
    """``text`` with every unprintable character (controls, line and paragraph separators,
    format characters, non-ASCII spaces) percent-encoded as its UTF-8 bytes."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "replace"))
        for ch in text
    )


def logged_path(path: str) -> str:
    """``path`` as the access log writes it: see the module docstring."""
    return printable(_masked(path))


def _masked(path: str) -> str:
    learners = path.startswith(_LEARNERS)
    if not learners and "@" not in path:
        return path
    return "/".join(
        MASKED
        if "@" in segment
        or (learners and segment and _LEARNER_SEGMENT_RE.fullmatch(segment) is None)
        else segment
        for segment in path.split("/")
    )


def _response_version(scope: Scope, default: str) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == _VERSION_HEADER_LOWER:
            rules, _ = resolve_version({}, value.decode("latin-1").strip())
            if rules is not None:
                return RESPONSE_VERSION[rules].encode()
            break
    return default.encode()


class AccessMiddleware:
    """Logs and measures each HTTP request; adds the xAPI version header under /xapi/."""

    def __init__(self, app: ASGIApp, default_version: str) -> None:
        self.app = app
        rules, _ = resolve_version({}, default_version)
        self.default_version = RESPONSE_VERSION[rules] if rules is not None else "2.0.0"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        path: str = scope["path"]
        version = (
            _response_version(scope, self.default_version) if path.startswith("/xapi/") else None
        )
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if version is not None:
                    headers = list(message.get("headers", ()))
                    headers.append((b"x-experience-api-version", version))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = printable(scope["method"])
            metrics.record_http_request(method, template, status, duration)
            statements = state.get("statements")
            shown_path = logged_path(path)
            extra: dict[str, Any] = {
                "method": method,
                "path": shown_path,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
            }
            shown = ""
            if statements is not None:
                extra["statements"] = statements
                shown = f" statements={statements}"
            logger.info(
                "%s %s %d%s %.1fms",
                method,
                shown_path,
                status,
                shown,
                duration * 1000,
                extra=extra,
            )
