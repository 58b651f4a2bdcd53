"""What the runner hands a sink, and what it dead-letters instead, for each feed."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from sink_factories import T0, milestone, snapshot

from sinks.base import DeadLetter, ErasureRecord, Feed, MilestoneRecord, ProfileRecord
from sinks.deadletters import KIND_HEADER, UnreadableRecord, read_dead_letter
from sinks.runner import decode

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def kafka(
    value: bytes | None, key: bytes | None = b"lrn_a", topic: str = "t"
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 2, 17, 1_770_000_000_000, 0, key, value, None, 0, 0, [])


def unreadable(item: object) -> UnreadableRecord:
    assert isinstance(item, DeadLetter)
    assert dict(item.headers)[KIND_HEADER] == b"unreadable-record.v1"
    parsed = read_dead_letter(item.value)
    assert isinstance(parsed, UnreadableRecord)
    return parsed


def test_a_milestone_is_decoded_with_where_it_came_from() -> None:
    event = milestone()
    item = decode(kafka(event.model_dump_json().encode()), Feed.MILESTONES, "sql", NOW)
    assert isinstance(item, MilestoneRecord)
    assert item.event == event
    assert (item.source.partition, item.source.offset) == (2, 17)
    assert item.source.published_at == datetime.fromtimestamp(1_770_000_000, UTC)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "not a milestone CloudEvent"),
        (b'{"specversion": "1.0"}', "not a milestone CloudEvent: id: Field required"),
        (None, "tombstone"),
    ],
)
def test_an_unreadable_milestone_becomes_a_dead_letter_with_its_bytes(
    value: bytes | None, reason: str
) -> None:
    letter = unreadable(decode(kafka(value), Feed.MILESTONES, "webhook", NOW))
    assert reason in letter.error
    assert letter.sink == "webhook"
    assert letter.value() == value
    assert letter.key() == b"lrn_a"
    assert (letter.source.topic, letter.source.partition, letter.source.offset) == ("t", 2, 17)


def test_a_snapshot_and_a_tombstone_are_profile_records() -> None:
    snap = snapshot("lrn_a", T0)
    item = decode(kafka(snap.model_dump_json().encode()), Feed.PROFILES, "sql", NOW)
    assert isinstance(item, ProfileRecord)
    assert item.snapshot == snap
    tombstone = decode(kafka(None), Feed.PROFILES, "sql", NOW)
    assert isinstance(tombstone, ProfileRecord)
    assert (tombstone.learner, tombstone.snapshot) == ("lrn_a", None)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (None, None, "needs the learner key"),
        (b"\xff", None, "not UTF-8"),
        (b"lrn_b", "snapshot", "published under key 'lrn_b'"),
        (b"lrn_a", b"[]", "not a profile snapshot"),
    ],
)
def test_an_unreadable_profile_record_becomes_a_dead_letter(
    key: bytes | None, value: bytes | str | None, reason: str
) -> None:
    raw = snapshot("lrn_a", T0).model_dump_json().encode() if value == "snapshot" else value
    assert not isinstance(raw, str)
    letter = unreadable(decode(kafka(raw, key), Feed.PROFILES, "sql", NOW))
    assert reason in letter.error


def test_an_erasure_names_the_learner_in_its_value() -> None:
    value = orjson.dumps({"learner": "lrn_a", "requested_by": "dpo"})
    item = decode(kafka(value), Feed.ERASURES, "sql", NOW)
    assert isinstance(item, ErasureRecord)
    assert item.learner == "lrn_a"
    keyless = decode(kafka(value, key=None), Feed.ERASURES, "sql", NOW)
    assert isinstance(keyless, ErasureRecord)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"lrn_a", None, "needs a JSON value"),
        (b"lrn_a", b"{", "not JSON"),
        (b"lrn_a", b'{"who": "lrn_a"}', '"learner" string'),
        (b"lrn_a", b'{"learner": ""}', '"learner" string'),
        (b"lrn_b", b'{"learner": "lrn_a"}', "under another key"),
    ],
)
def test_an_unreadable_erasure_becomes_a_dead_letter(
    key: bytes, value: bytes | None, reason: str
) -> None:
    assert reason in unreadable(decode(kafka(value, key), Feed.ERASURES, "sql", NOW)).error
