"""Dead letters: statements that failed validation, kept whole with every reason.

The original bytes travel base64-encoded (they may not even be UTF-8), beside
the full list of problems and where the record came from, so an operator can
fix the cause and re-publish the same bytes with ``skillstream dlq reprocess``.
"""

from __future__ import annotations

import base64
from typing import Final, Literal

from pydantic import Field

from schemas._base import Published, UtcDatetime

DEAD_LETTER_VERSION: Final = 1


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

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @staticmethod
    def encode(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")
