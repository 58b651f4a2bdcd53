"""Bad input on purpose: records that must end on the dead-letter topic, for the fault suite.

Five kinds, each a realistic way an LMS or a broken relay gets it wrong:
malformed JSON, wrong JSON types, missing required properties, oversized
payloads (over ``max_bytes`` but small enough for Kafka to carry) and bytes
that are not UTF-8. Deterministic for a seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from enum import StrEnum

import orjson


class BadKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPES = "wrong_types"
    MISSING_FIELDS = "missing_fields"
    OVERSIZED = "oversized"
    INVALID_UTF8 = "invalid_utf8"


def _statement(rng: random.Random) -> dict[str, object]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": {"objectType": "Agent", "mbox": f"mailto:bad{rng.randrange(10_000)}@example.com"},
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {"id": f"https://lms.example.com/courses/c{rng.randrange(100)}"},
        "timestamp": "2026-02-02T10:00:00Z",
    }


def bad_record(kind: BadKind, rng: random.Random, max_bytes: int = 1_000_000) -> bytes:
    st = _statement(rng)
    if kind is BadKind.MALFORMED_JSON:
        text = orjson.dumps(st)
        return text[: rng.randrange(1, len(text) - 1)]
    if kind is BadKind.WRONG_TYPES:
        field = rng.choice(["actor", "verb", "object", "timestamp", "id"])
        st[field] = rng.choice([42, True, ["x"], 3.5])
        return orjson.dumps(st)
    if kind is BadKind.MISSING_FIELDS:
        for field in rng.sample(["actor", "verb", "object"], rng.randrange(1, 4)):
            del st[field]
        return orjson.dumps(st)
    if kind is BadKind.OVERSIZED:
        st["result"] = {"response": "x" * (max_bytes + 100)}
        return orjson.dumps(st)
    text = orjson.dumps(st)
    cut = rng.randrange(1, len(text) - 1)
    return (
        text[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x9f\x98"]) + text[cut:]
    )


def bad_records(
    count: int, seed: int, max_bytes: int = 1_000_000, oversized_share: float = 0.01
) -> Iterator[tuple[BadKind, bytes]]:
    """``count`` bad records; oversized ones are kept rare (each is about ``max_bytes``)."""
    rng = random.Random(seed)
    common = [k for k in BadKind if k is not BadKind.OVERSIZED]
    for _ in range(count):
        kind = BadKind.OVERSIZED if rng.random() < oversized_share else rng.choice(common)
        yield kind, bad_record(kind, rng, max_bytes)


def mix(good: list[bytes], bad: list[bytes], seed: int) -> list[bytes]:
    """Bad records spread at random positions through the good ones (good order kept)."""
    rng = random.Random(seed)
    positions = sorted(rng.randrange(len(good) + 1) for _ in bad)
    out: list[bytes] = []
    j = 0
    for i, record in enumerate(good):
        while j < len(bad) and positions[j] == i:
            out.append(bad[j])
            j += 1
        out.append(record)
    out.extend(bad[j:])
    return out
