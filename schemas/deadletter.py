"""Dead letters: statements that failed validation, kept whole with every reason.

The original bytes travel base64-encoded (they may not even be UTF-8), beside
the full list of problems and where the record came from, so an operator can
fix the cause and re-publish the same bytes with ``skillstream dlq reprocess``.

A dead letter must fit its topic (``max.message.bytes``) or nothing could be
dead-lettered at all: ``fit`` keeps the whole letter when it fits; otherwise it
keeps the first problems (with one saying how many more there were) and, if
that is not enough, the first bytes of the original, with ``original_truncated``
set, the original's size and its SHA-256 — enough to find the record at its
source, which the letter names. A truncated letter cannot be reprocessed.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final, Literal

from pydantic import Field

from schemas._base import Published, UtcDatetime

DEAD_LETTER_VERSION: Final = 1
MAX_PROBLEMS_KEPT: Final = 1000
"""A letter cut down to fit its topic keeps at most this many problems (the last says how
many more there were)."""


class Problem(Published):
    path: str = Field(description="JSON path into the statement, '$' for the whole record.")
    message: str
    code: str = Field(description="Stable kind of error, for counting (e.g. 'ifi', 'iri').")


class SourcePosition(Published):
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int | None = None


class DeadLetter(Published):
    version: Literal[1] = DEAD_LETTER_VERSION
    source: SourcePosition
    original_b64: str = Field(description="The record value exactly as received, base64.")
    xapi_version_header: str | None = None
    errors: tuple[Problem, ...] = Field(min_length=1)
    dead_lettered_at: UtcDatetime
    original_truncated: bool = Field(
        default=False,
        description="True when only the first bytes of the original are kept (see fit).",
    )
    original_size: int | None = Field(default=None, ge=0, description="Set when truncated.")
    original_sha256: str | None = Field(default=None, description="Set when truncated.")

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @staticmethod
    def encode(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    def fit(self, max_bytes: int) -> tuple[DeadLetter, bytes]:
        """This letter, cut down so that its JSON is at most ``max_bytes``; and that JSON."""
        whole = self.model_dump_json().encode()
        if len(whole) <= max_bytes:
            return self, whole
        errors = self.errors
        if len(errors) > MAX_PROBLEMS_KEPT:
            more = len(errors) - MAX_PROBLEMS_KEPT + 1
            errors = (
                *errors[: MAX_PROBLEMS_KEPT - 1],
                Problem(path="$", message=f"… and {more} more problems", code="more"),
            )
        trimmed = self.model_copy(update={"errors": errors})
        value = trimmed.model_dump_json().encode()
        if len(value) <= max_bytes:
            return trimmed, value
        raw = self.original()
        shell = self.model_copy(
            update={
                "errors": errors,
                "original_b64": "",
                "original_truncated": True,
                "original_size": len(raw),
                "original_sha256": hashlib.sha256(raw).hexdigest(),
            }
        )
        room = max_bytes - len(shell.model_dump_json().encode())
        if room < 0:
            raise ValueError(f"a dead letter needs more than {max_bytes} bytes even when empty")
        kept = raw[: room // 4 * 3]
        letter = shell.model_copy(update={"original_b64": self.encode(kept)})
        return letter, letter.model_dump_json().encode()
