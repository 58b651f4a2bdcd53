"""How skillstream signs a webhook delivery, and how a receiver checks it.

Each POST carries

    Skillstream-Signature: t=<unix seconds>,v1=<hex>
    Skillstream-Event-Id:  <milestone id>

where ``<hex>`` is HMAC-SHA256, keyed with the subscriber's secret (UTF-8),
over the bytes ``f"{t}."`` followed by the request body exactly as received.
The timestamp is signed so that a captured request cannot be replayed later:
a receiver refuses a signature older (or newer) than a tolerance, five
minutes by default. Each retry is signed afresh with its own timestamp.

A header may hold several ``v1=`` entries (for a secret being rotated); one
match is enough. Compare in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Skillstream-Signature"
EVENT_ID_HEADER = "Skillstream-Event-Id"
ATTEMPT_HEADER = "Skillstream-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


class InvalidSignatureError(ValueError):
    """The request is not from skillstream, was altered, or is too old; the message says which."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + body."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a ``Skillstream-Signature`` header; return its timestamp, else raise."""
    if not header:
        raise InvalidSignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignatureError(f"malformed {SIGNATURE_HEADER} header: {header[:80]!r}")
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignatureError(
            f"signature timestamp {timestamp} is {now - timestamp:.0f}s from now "
            f"(tolerance {tolerance_s:.0f}s)"
        )
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignatureError("signature does not match the body and secret")
    return timestamp
