"""The base every skillstream contract model shares.

Contracts are strict (a wrong JSON type is an error, not a coercion) and frozen
(a value on a topic never changes under a consumer's feet). They are read from
the wire with ``model_validate_json``: in JSON mode strict pydantic still takes
ISO 8601 strings for datetimes and arrays for tuples.

Two kinds differ in what they do with a property they do not know:

- ``Contract`` — input skillstream reads from people and from its own stages
  (catalog files, rules, ``learning.events``): closed, so a typo surfaces at once.
- ``Published`` — what skillstream publishes for others (the milestone
  CloudEvent, the profile snapshot, dead letters): open. Within a major version
  fields are only ever added, so a reader built for an older version must accept
  (and, when it passes the record on, keep) properties it does not know — a new
  field, or a CloudEvents extension such as ``traceparent`` added on the way.
  Their JSON Schema says so (no ``additionalProperties: false``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Published(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", strict=True)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs a timezone (for example 2026-01-31T09:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
"""A timezone-aware instant, normalised to UTC."""
