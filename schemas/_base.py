"""The base every skillstream contract model shares.

Contracts are strict (a wrong JSON type is an error, not a coercion), frozen
(a value on a topic never changes under a consumer's feet) and closed (an
unknown property is refused, so a producer's typo surfaces at once). They are
read from the wire with ``model_validate_json``: in JSON mode strict pydantic
still takes ISO 8601 strings for datetimes and arrays for tuples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs a timezone (for example 2026-01-31T09:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
"""A timezone-aware instant, normalised to UTC."""
