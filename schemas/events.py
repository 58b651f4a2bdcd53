"""The normalized learning event: what the profile stage reads.

One valid xAPI statement becomes zero or more ``LearningEvent`` records on
``learning.events`` (a Group actor credits each member, so one statement may
yield several), keyed by the pseudonymous learner key. The event keeps only
what the profile needs: no e-mail address or name ever reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from operator import itemgetter
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import Field

from schemas._base import Contract, UtcDatetime
from schemas.trusted import trusted

LEARNING_EVENT_SCHEMA_VERSION: Final = 1


class EventKind(StrEnum):
    """What the learner did, as far as a career profile is concerned."""

    COURSE_COMPLETED = "course_completed"
    COURSE_PASSED = "course_passed"
    COURSE_FAILED = "course_failed"
    EVENT_ATTENDED = "event_attended"
    """A workshop, meetup, conference or other event attended."""
    SKILL_ASSESSED = "skill_assessed"
    CERTIFICATION_EARNED = "certification_earned"
    COLLABORATION = "collaboration"
    """Mentoring, being mentored, sharing or collaborating with peers."""
    OTHER = "other"
    """Counted as activity (streaks, continuous learning), nothing more."""
    VOIDING = "voiding"
    """The statement voids an earlier one: its evidence is withdrawn."""


Score = Annotated[float, Field(ge=-1.0, le=1.0)]


class LearningEvent(Contract):
    """One learner's credit from one statement."""

    schema_version: Literal[1] = LEARNING_EVENT_SCHEMA_VERSION
    statement_id: str = Field(description="The xAPI statement id (UUID), lower case.")
    learner: str = Field(description="Pseudonymous learner key derived from the actor's IFI.")
    kind: EventKind
    time: UtcDatetime = Field(description="Event time: the statement's timestamp, else stored.")
    verb: str = Field(description="The verb IRI as sent.")
    activity_id: str | None = None
    activity_type: str | None = None
    skills: tuple[str, ...] = Field(
        default=(), description="Skill ids touched, from the statement and the catalog."
    )
    score: Score | None = Field(default=None, description="Scaled score in [-1, 1].")
    success: bool | None = None
    completion: bool | None = None
    duration: str | None = Field(default=None, description="ISO 8601 duration, as sent.")
    duration_seconds: float | None = Field(default=None, ge=0)
    voided_statement_id: str | None = Field(
        default=None, description="For kind=voiding: the id of the statement withdrawn."
    )


class LearnerEvents(Contract):
    """One record on ``learning.events``: a learner's events from one ingest batch, in order.

    Ingest groups the events of each poll batch by learner and writes one
    record per learner (keyed by the learner key), so the profile stage pays
    its per-record cost once per learner per batch rather than once per
    statement. A record holds at least one event; all belong to ``learner``.

    This model is the record's version 1, a JSON object. Ingest writes version 2, the
    same content as a JSON array: ``[2, learner, [event, ...]]``, each event the array of
    its field values in ``WIRE_FIELDS`` order (no field names, no learner per event: 43 %
    fewer bytes, read in a third less time). ``decode_learner_events`` reads both, so
    records written before an upgrade, and dead letters holding them, still replay.
    """

    version: Literal[1] = LEARNING_EVENT_SCHEMA_VERSION
    learner: str
    events: tuple[LearningEvent, ...] = Field(min_length=1)


DERIVED: Final = "_derived"
"""The key under which an event the native ingest built keeps, beside its fields in its
``__dict__``, what the profile core would otherwise derive from them again:
``(statement_id, time, high, low, micros)``, the id's two 64-bit halves
(``streams.core.state.statement_key``) and the time in microseconds (``to_micros``). The
first two are the very field objects they were derived from: the core takes the rest only
while the event still holds those (a ``model_copy`` that replaces the id or the time keeps
the key, not those objects). Not a field: pydantic leaves it out of ``==``, ``hash``,
``repr`` and every dump, as it does a ``cached_property``'s value, and the
``learning.events`` codec never writes it (``streams.decode_memo`` hands the profile stage
the ingest's own events, which carry it)."""


# --- trusted construction and the learning.events wire codec -------------------------------
#
# Validating a LearningEvent costs more than normalising the statement it came
# from, and the hot path builds one per statement. ``build_event`` builds one
# from values the caller has already made valid (the normaliser, or a record
# this module encoded). At import it builds a probe both ways and keeps the
# fast path only if the two are indistinguishable; otherwise it falls back to
# ``model_construct``.

_FIELDS: Final = tuple(LearningEvent.model_fields)
_FIELD_SET: Final = set(_FIELDS)
_direct: Final = partial(trusted, LearningEvent)


def _constructed(values: dict[str, Any]) -> LearningEvent:
    return LearningEvent.model_construct(**values)


def _probe_values() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "statement_id": "00000000-0000-4000-8000-000000000000",
        "learner": "lrn_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        "kind": EventKind.SKILL_ASSESSED,
        "time": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "verb": "http://adlnet.gov/expapi/verbs/passed",
        "activity_id": "https://lms.example.com/assessments/python",
        "activity_type": "http://adlnet.gov/expapi/activities/assessment",
        "skills": ("python",),
        "score": 0.5,
        "success": True,
        "completion": True,
        "duration": "PT1H",
        "duration_seconds": 3600.0,
        "voided_statement_id": None,
    }


def _choose_builder() -> Callable[[dict[str, Any]], LearningEvent]:
    expected = LearningEvent(**_probe_values())
    try:
        built = _direct(_probe_values())
        same = (
            built == expected
            and built.model_dump_json() == expected.model_dump_json()
            and hash(built) == hash(expected)
        )
    except Exception:  # noqa: BLE001 - a failed probe means "use the safe path"
        same = False
    return _direct if same else _constructed


build_event: Final = _choose_builder()
"""Build a ``LearningEvent`` from a complete dict of already-valid field values."""
BUILT_TRUSTED: Final = build_event is _direct
"""Whether ``build_event`` is ``schemas.trusted.trusted`` for ``LearningEvent``: compiled
callers then call that directly, without the ``partial`` between."""

_KINDS: Final = {k.value: k for k in EventKind}
_parse_time: Final = datetime.fromisoformat

LEARNER_EVENTS_VERSION: Final = 2
"""The ``learning.events`` record version ingest writes (``LearnerEvents`` says both)."""
WIRE_FIELDS: Final = (
    "statement_id",
    "kind",
    "time",
    "verb",
    "activity_id",
    "activity_type",
    "skills",
    "score",
    "success",
    "completion",
    "duration",
    "duration_seconds",
    "voided_statement_id",
)
"""An event's fields in a version-2 record, in order: all but the schema version and the
learner, which the record holds once."""
_wire: Final = itemgetter(*WIRE_FIELDS)


def encode_learner_events(learner: str, events: Sequence[LearningEvent]) -> bytes:
    """One learner's events as a ``learning.events`` record (version 2, ``LearnerEvents``)."""
    return orjson.dumps([LEARNER_EVENTS_VERSION, learner, [_wire(e.__dict__) for e in events]])


def encode_learner_records(
    learner: str, events: Sequence[LearningEvent], max_bytes: int
) -> list[bytes]:
    """One learner's events as as few ``learning.events`` values as fit ``max_bytes`` each.

    A backfill of an active learner can put thousands of statements of one learner in one
    ingest batch; one record of them all would pass the topic's ``max.message.bytes``.
    The events keep their order across the records (the profile stage applies the records
    of a partition in order). An event too big for a record of its own raises
    ``ValueError`` — its statement is bounded far below any sane limit, so that is a
    misconfigured topic, not data.
    """
    whole = encode_learner_events(learner, events)
    if len(whole) <= max_bytes:
        return [whole]
    if len(events) == 1:
        raise ValueError(
            f"one learning event encodes to {len(whole)} bytes, over the {max_bytes} bytes a "
            "learning.events record may hold: raise the topic's max.message.bytes"
        )
    # Split where the bytes are halved (events differ in size), then each half again.
    sizes = [len(orjson.dumps(_wire(e.__dict__))) for e in events]
    half, running, total = 1, 0, sum(sizes)
    for i, size in enumerate(sizes[:-1], start=1):
        running += size
        if running * 2 >= total:
            half = i
            break
    else:
        half = len(events) - 1
    return encode_learner_records(learner, events[:half], max_bytes) + encode_learner_records(
        learner, events[half:], max_bytes
    )


def decode_learner_events(data: bytes) -> tuple[str, list[LearningEvent]]:
    """Read a ``learning.events`` record: version 2 (``encode_learner_events``) or 1.

    Only skillstream's ingest writes ``learning.events``; a record that is not
    in either shape raises ``ValueError`` (the caller dead-letters it) rather
    than being half-read.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a learning.events record: {exc!r}") from exc
    if type(doc) is list:
        return _decode_version_2(doc)
    try:
        learner = doc["learner"]
        events = []
        for values in doc["events"]:
            if values.keys() != _FIELD_SET:
                raise ValueError(f"fields {sorted(values)} are not LearningEvent's")
            values["kind"] = _KINDS[values["kind"]]
            values["time"] = _parse_time(values["time"])
            values["skills"] = tuple(values["skills"])
            events.append(build_event(values))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a learning.events record: {exc!r}") from exc
    if doc.get("version") != 1 or not events:
        raise ValueError("not a learning.events record: unknown version or no events")
    return learner, events


def _decode_version_2(doc: list[Any]) -> tuple[str, list[LearningEvent]]:
    try:
        version, learner, rows = doc
        if version != LEARNER_EVENTS_VERSION or type(learner) is not str or not rows:
            raise ValueError("unknown version, no learner or no events")
        events = []
        for row in rows:
            if type(row) is not list:
                raise TypeError(f"an event is a {type(row).__name__}, not a list")
            (
                statement_id,
                kind,
                time,
                verb,
                activity_id,
                activity_type,
                skills,
                score,
                success,
                completion,
                duration,
                duration_seconds,
                voided_statement_id,
            ) = row
            events.append(
                build_event(
                    {
                        "schema_version": LEARNING_EVENT_SCHEMA_VERSION,
                        "statement_id": statement_id,
                        "learner": learner,
                        "kind": _KINDS[kind],
                        "time": _parse_time(time),
                        "verb": verb,
                        "activity_id": activity_id,
                        "activity_type": activity_type,
                        "skills": tuple(skills),
                        "score": score,
                        "success": success,
                        "completion": completion,
                        "duration": duration,
                        "duration_seconds": duration_seconds,
                        "voided_statement_id": voided_statement_id,
                    }
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a learning.events record: {exc!r}") from exc
    return learner, events
