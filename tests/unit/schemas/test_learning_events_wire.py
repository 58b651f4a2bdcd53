"""The ``learning.events`` record: version 2 written, versions 2 and 1 read, as the same events."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.catalog import Catalog
from schemas.events import (
    LEARNER_EVENTS_VERSION,
    WIRE_FIELDS,
    EventKind,
    LearnerEvents,
    LearningEvent,
    decode_learner_events,
    encode_learner_events,
)
from schemas.normalize import Ignored, normalize
from schemas.vocabulary import Vocabulary
from tools.simulate import SAMPLE_CATALOG, Simulation

SECRET = b"test-secret"


def simulated() -> dict[str, list[LearningEvent]]:
    """A simulated run's events, by learner, every kind the simulator sends."""
    catalog = Catalog.from_file(SAMPLE_CATALOG)
    vocabulary = Vocabulary.default()
    by_learner: dict[str, list[LearningEvent]] = defaultdict(list)
    for line, invalid in Simulation(40, 28, seed=5).labelled():
        if invalid is not None:
            continue
        outcome = normalize(orjson.loads(line), catalog, vocabulary, SECRET)
        if not isinstance(outcome, Ignored):
            for event in outcome:
                by_learner[event.learner].append(event)
    return by_learner


def version_1(learner: str, events: list[LearningEvent]) -> bytes:
    """A record as ingest wrote it before version 2: the ``LearnerEvents`` JSON object."""
    return LearnerEvents(learner=learner, events=tuple(events)).model_dump_json().encode()


def test_a_record_reads_back_as_the_events_written_in_either_version() -> None:
    runs = simulated()
    kinds = {e.kind for events in runs.values() for e in events}
    assert {EventKind.SKILL_ASSESSED, EventKind.VOIDING, EventKind.EVENT_ATTENDED} <= kinds
    assert any(e.duration_seconds is not None for events in runs.values() for e in events)
    written = old = 0
    for learner, events in runs.items():
        for chunk in (events[:1], events[:7], events):
            record = encode_learner_events(learner, chunk)
            assert orjson.loads(record)[0] == LEARNER_EVENTS_VERSION
            assert decode_learner_events(record) == (learner, chunk)
            legacy = version_1(learner, chunk)
            assert decode_learner_events(legacy) == (learner, chunk)
            for read, made in zip(decode_learner_events(record)[1], chunk, strict=True):
                assert read.model_dump() == made.model_dump()
                assert hash(read) == hash(made)
            written += len(record)
            old += len(legacy)
    assert written < 0.7 * old  # the point of version 2


def test_a_version_1_record_as_ingest_wrote_it_still_reads() -> None:
    record = (
        b'{"version":1,"learner":"lrn_x","events":[{"schema_version":1,"statement_id":'
        b'"6a1f5f0e-3c2b-4d5e-8f90-a1b2c3d4e5f6","learner":"lrn_x","kind":"skill_assessed",'
        b'"time":"2026-01-05T09:00:00+00:00","verb":"http://adlnet.gov/expapi/verbs/passed",'
        b'"activity_id":"https://lms.example.com/a","activity_type":null,"skills":["python"],'
        b'"score":0.8,"success":true,"completion":null,"duration":"PT1H",'
        b'"duration_seconds":3600.0,"voided_statement_id":null}]}'
    )
    learner, [event] = decode_learner_events(record)
    assert learner == "lrn_x"
    assert event == LearningEvent(
        statement_id="6a1f5f0e-3c2b-4d5e-8f90-a1b2c3d4e5f6",
        learner="lrn_x",
        kind=EventKind.SKILL_ASSESSED,
        time=datetime(2026, 1, 5, 9, tzinfo=UTC),
        verb="http://adlnet.gov/expapi/verbs/passed",
        activity_id="https://lms.example.com/a",
        skills=("python",),
        score=0.8,
        success=True,
        duration="PT1H",
        duration_seconds=3600.0,
    )
    assert encode_learner_events(learner, [event]) == (
        b'[2,"lrn_x",[["6a1f5f0e-3c2b-4d5e-8f90-a1b2c3d4e5f6","skill_assessed",'
        b'"2026-01-05T09:00:00+00:00","http://adlnet.gov/expapi/verbs/passed",'
        b'"https://lms.example.com/a",null,["python"],0.8,true,null,"PT1H",3600.0,null]]]'
    )
    assert len(WIRE_FIELDS) == 13


def _good() -> list[Any]:
    learner, events = next(iter(simulated().items()))
    doc: list[Any] = orjson.loads(encode_learner_events(learner, events[:2]))
    return doc


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc.__setitem__(0, 3),  # a version to come
        lambda doc: doc.__setitem__(0, 1),  # version 1 is an object, never an array
        lambda doc: doc.__setitem__(1, None),  # no learner
        lambda doc: doc.__setitem__(2, []),  # no events
        lambda doc: doc.append("more"),  # an item too many
        lambda doc: doc.__setitem__(2, [{"statement_id": "x"}]),  # an event that is an object
        lambda doc: doc[2][0].pop(),  # a field missing
        lambda doc: doc[2][0].append(None),  # a field too many
        lambda doc: doc[2][0].__setitem__(1, "astronaut"),  # a kind that is none
        lambda doc: doc[2][0].__setitem__(2, "yesterday"),  # a time that is none
        lambda doc: doc[2][0].__setitem__(6, 7),  # skills that are no list
    ],
)
def test_a_malformed_version_2_record_is_refused(change: Any) -> None:
    doc = _good()
    assert decode_learner_events(orjson.dumps(doc))[1]  # the control reads
    change(doc)
    with pytest.raises(ValueError, match=r"not a learning\.events record"):
        decode_learner_events(orjson.dumps(doc))


@pytest.mark.parametrize("data", [b"", b"[", b"2", b'"text"', b"null", b'{"version":1}'])
def test_what_is_no_record_at_all_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"not a learning\.events record"):
        decode_learner_events(data)
