"""No single record stops a stage: nesting, internal failures, sizes (no broker needed)."""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from core_helpers import LEARNER, catalog, event

import streams.pipeline as pipeline
from schemas.deadletter import MAX_PROBLEMS_KEPT, DeadLetter, Problem, SourcePosition
from schemas.events import (
    LearningEvent,
    decode_learner_events,
    encode_learner_events,
    encode_learner_records,
)
from schemas.ingest import Normalize
from schemas.normalize import normalize, statement_id_of
from schemas.xapi import MAX_NESTING, parse_statement
from sinks.base import DeadLetter as SinkLetter
from sinks.base import Source
from sinks.deadletters import fit, read_dead_letter, unreadable
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from streams.core import DEFAULT_RULES_PATH, Rules, encode_state
from streams.offline import run_offline
from streams.pipeline import Ingest, Profiles, Rejected, apply_each

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def deep_statement(levels: int, with_id: bool) -> bytes:
    """A statement whose result extension value nests ``levels`` arrays."""
    value = "[" * levels + "0" + "]" * levels
    sid = f'"id":"{uuid.UUID(int=levels)}",' if with_id else ""
    return (
        "{" + sid + '"actor":{"mbox":"mailto:deep@example.com"},'
        '"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},'
        '"object":{"id":"https://lms.example.com/courses/deep"},'
        '"timestamp":"2026-03-01T09:00:00Z",'
        '"result":{"extensions":{"https://lms.example.com/x/e":' + value + "}}}"
    ).encode()


# --- one nesting limit ------------------------------------------------------------------------


@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("levels", [300, 1000, 5000])
def test_a_statement_nested_past_the_limit_is_refused_by_the_validator(
    levels: int, with_id: bool
) -> None:
    _, _, problems = parse_statement(deep_statement(levels, with_id))
    assert [p.code for p in problems] == ["too_deep"]
    assert str(MAX_NESTING) in problems[0].message


@pytest.mark.parametrize("with_id", [True, False])
def test_a_statement_at_the_limit_is_valid_and_its_id_can_be_derived(with_id: bool) -> None:
    # statement, result, extensions: 3 levels; the value may add the rest.
    statement, _, problems = parse_statement(deep_statement(MAX_NESTING - 3, with_id))
    assert problems == []
    assert statement is not None
    assert uuid.UUID(statement_id_of(statement))
    _, _, problems = parse_statement(deep_statement(MAX_NESTING - 2, with_id))
    assert [p.code for p in problems] == ["too_deep"]


def test_every_place_extensions_live_is_bounded() -> None:
    deep = "[" * 60 + "1" + "]" * 60
    statement = (
        '{"actor":{"mbox":"mailto:a@example.com"},'
        '"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},'
        '"object":{"id":"https://lms.example.com/a","definition":{"extensions":'
        '{"https://e.example.com/d":DEEP}}},'
        '"context":{"extensions":{"https://e.example.com/x":DEEP}}}'
    ).replace("DEEP", deep)
    _, _, problems = parse_statement(statement.encode())
    assert sorted(p.path for p in problems if p.code == "too_deep") == [
        '$.context.extensions["https://e.example.com/x"]',
        '$.object.definition.extensions["https://e.example.com/d"]',
    ]


# --- a bug of ours on one record --------------------------------------------------------------


def ingest(normalize_statement: Normalize = normalize) -> Ingest:
    return Ingest(
        load_catalog(SAMPLE_CATALOG),
        load_vocabulary(None),
        b"s" * 32,
        normalize_statement=normalize_statement,
    )


def test_any_failure_on_a_record_makes_it_a_dead_letter_with_the_reason() -> None:
    def broken(*_: object, **__: object) -> tuple[LearningEvent, ...]:
        raise KeyError("a field skillstream forgot")

    step = ingest(broken)
    outcome = step.record(deep_statement(3, True))
    assert isinstance(outcome, Rejected)
    [problem] = outcome.problems
    assert problem.code == "internal"
    assert "KeyError" in problem.message
    assert "a field skillstream forgot" in problem.message
    assert step.counts.dead_lettered == 1
    assert step.counts.valid == 0


@pytest.mark.parametrize(
    "raw",
    [
        bytearray(deep_statement(3, True)),
        memoryview(deep_statement(3, True)),
        deep_statement(3, True).decode(),
        bytearray(b"{}"),
    ],
    ids=["bytearray", "memoryview", "str", "invalid bytearray"],
)
def test_a_bytes_like_or_text_record_is_read_as_its_bytes(raw: object) -> None:
    """The compiled ``Ingest.record`` takes a record of another type as the pure one does:
    bytes-like values and text are read as their bytes."""
    as_bytes = bytes(raw) if not isinstance(raw, str) else raw.encode()
    expected = ingest().record(as_bytes)
    step = ingest()
    assert step.record(raw) == expected
    assert step.counts.valid + step.counts.dead_lettered == 1


@pytest.mark.parametrize(
    ("raw", "header_version", "fallback_time"),
    [
        (None, None, None),
        (12, None, None),
        (deep_statement(3, True), 2.0, None),
        (deep_statement(3, True), None, "yesterday"),
    ],
    ids=["None", "an int", "a float header", "a text record time"],
)
def test_a_record_of_another_type_is_a_dead_letter_not_an_exception(
    raw: object, header_version: object, fallback_time: object
) -> None:
    step = ingest()
    outcome = step.record(raw, header_version, fallback_time)
    assert isinstance(outcome, Rejected)
    [problem] = outcome.problems
    assert problem.code == "internal"
    assert "TypeError" in problem.message
    assert step.counts.dead_lettered == 1


def test_a_rejection_pickles_and_copies() -> None:
    rejected = ingest().record(b"{}")
    assert isinstance(rejected, Rejected)
    assert rejected.problems
    assert pickle.loads(pickle.dumps(rejected)) == rejected
    assert copy.copy(rejected) == rejected


def test_the_deep_statements_go_to_the_dead_letters_and_the_rest_is_processed_offline() -> None:
    good = [
        orjson.dumps(
            {
                "id": str(uuid.UUID(int=n + 1)),
                "actor": {"mbox": f"mailto:l{n}@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": "https://lms.example.com/courses/kafka-101"},
                "timestamp": "2026-03-01T09:00:00Z",
            }
        )
        for n in range(200)
    ]
    records = [deep_statement(300, False), deep_statement(300, True), *good]
    result = run_offline(
        records,
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=b"s" * 32,
    )
    assert [d.source.offset for d in result.dead_letters] == [0, 1]
    assert all(d.errors[0].code == "too_deep" for d in result.dead_letters)
    assert result.counts.valid == 200
    assert len(result.profiles) == 200


def test_offline_sets_aside_an_event_the_core_fails_on_and_keeps_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.offline as offline

    real_apply = offline.apply
    bad_id = str(uuid.UUID(int=7))

    def flaky(state, ev, cat, rules):  # type: ignore[no-untyped-def]
        if ev.statement_id == bad_id:
            raise RuntimeError("boom in the core")
        return real_apply(state, ev, cat, rules)

    monkeypatch.setattr(offline, "apply", flaky)
    monkeypatch.setattr(pipeline, "apply", flaky)
    records = [
        orjson.dumps(
            {
                "id": str(uuid.UUID(int=n)),
                "actor": {"mbox": "mailto:same@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": f"https://lms.example.com/courses/c{n}"},
                "timestamp": f"2026-03-{n:02d}T09:00:00Z",
            }
        )
        for n in range(1, 11)
    ]
    result = run_offline(
        records,
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=b"s" * 32,
    )
    [letter] = result.dead_letters
    assert letter.errors[0].code == "internal"
    assert "boom in the core" in letter.errors[0].message
    _, [dropped] = decode_learner_events(letter.original())
    assert dropped.statement_id == bad_id
    [profile] = result.profiles.values()
    assert profile.statements == 9


def test_apply_each_leaves_out_only_the_event_that_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = Rules.load(DEFAULT_RULES_PATH)
    profiles = Profiles(catalog(), rules)
    events = [event(f"s{n}", days=n, score=0.5 + n / 20) for n in range(6)]
    expected = profiles.apply_batch(None, [e for e in events if e.statement_id != "s3"])
    real_apply = pipeline.apply

    def flaky(state, ev, cat, r):  # type: ignore[no-untyped-def]
        if ev.statement_id == "s3":
            state.totals.counts.clear()  # corrupt it first, as a real bug might
            raise ValueError("bug")
        return real_apply(state, ev, cat, r)

    monkeypatch.setattr(pipeline, "apply", flaky)
    with pytest.raises(ValueError, match="bug"):
        profiles.apply_batch(None, events)
    outcome, failed = apply_each(profiles, None, events)
    assert [f.index for f in failed] == [3]
    assert outcome is not None
    assert encode_state(outcome.state) == encode_state(expected.state)
    assert [m.id for m in outcome.milestones] == [m.id for m in expected.milestones]
    assert outcome.snapshot == expected.snapshot


# --- sizes from the topic ---------------------------------------------------------------------


def test_a_heavy_learner_is_split_across_records_that_fit_in_order() -> None:
    events = [event(f"statement-{n:05d}", days=n / 100) for n in range(4000)]
    whole = encode_learner_events(LEARNER, events)
    limit = 50_000
    assert len(whole) > 10 * limit
    records = encode_learner_records(LEARNER, events, limit)
    assert all(len(r) <= limit for r in records)
    decoded = [e for r in records for e in decode_learner_events(r)[1]]
    assert [e.statement_id for e in decoded] == [e.statement_id for e in events]
    assert len(records) < 2 * len(whole) / limit + 2  # no more records than needed, nearly
    assert encode_learner_records(LEARNER, events[:3], limit) == [
        encode_learner_events(LEARNER, events[:3])
    ]


def test_an_event_that_fits_no_record_says_what_to_raise() -> None:
    with pytest.raises(ValueError, match=r"max\.message\.bytes"):
        encode_learner_records(LEARNER, [event("s1")], 100)


def letter(raw: bytes, problems: int = 1) -> DeadLetter:
    return DeadLetter(
        source=SourcePosition(topic="xapi.statements", partition=2, offset=7),
        original_b64=DeadLetter.encode(raw),
        errors=tuple(
            Problem(path=f"$.p{n}", message="wrong " * 10, code="type") for n in range(problems)
        ),
        dead_lettered_at=NOW,
    )


def test_a_dead_letter_that_fits_is_kept_whole() -> None:
    whole = letter(b"{}")
    kept, value = whole.fit(10_000)
    assert kept == whole
    assert value == whole.model_dump_json().encode()
    assert not kept.original_truncated


@pytest.mark.parametrize(("size", "problems"), [(900_000, 1), (10_000, 50_000), (2_000_000, 3)])
def test_a_dead_letter_too_big_for_its_topic_is_cut_down_and_says_so(
    size: int, problems: int
) -> None:
    raw = bytes(range(256)) * (size // 256)
    big = letter(raw, problems)
    limit = 1_000_000
    kept, value = big.fit(limit)
    assert len(value) <= limit
    assert DeadLetter.model_validate_json(value) == kept
    assert len(kept.errors) <= MAX_PROBLEMS_KEPT
    if size * 4 // 3 < limit // 2:  # the problems were too many, not the bytes
        assert not kept.original_truncated
        assert kept.original() == raw
    else:
        assert kept.original_truncated
        assert kept.original_size == len(raw)
        assert kept.original_sha256 == hashlib.sha256(raw).hexdigest()
        assert raw.startswith(kept.original())
        assert len(kept.original()) > limit // 3
    if problems > MAX_PROBLEMS_KEPT:
        assert kept.errors[-1].message == f"… and {problems - MAX_PROBLEMS_KEPT + 1} more problems"
    assert kept.source == big.source


def test_a_sinks_unreadable_record_is_cut_down_to_fit_its_topic() -> None:
    raw = b"\xff" * 900_000
    source = Source("career.milestones", 1, 42, 1_700_000_000_000, b"lrn_x", raw)
    whole = unreadable("sql", source, "not JSON", NOW)
    assert len(whole.value) > 1_000_000
    small = fit(whole, 1_000_000)
    assert len(small.value) <= 1_000_000
    assert small.headers == whole.headers
    record = read_dead_letter(small.value)
    assert record.value_truncated  # type: ignore[union-attr]
    assert record.value_size == len(raw)  # type: ignore[union-attr]
    assert record.value_sha256 == hashlib.sha256(raw).hexdigest()  # type: ignore[union-attr]
    assert raw.startswith(base64.b64decode(record.value_b64 or ""))  # type: ignore[union-attr]
    assert fit(small, 1_000_000) is small


def test_a_delivery_failure_is_never_cut_down() -> None:
    letter_ = SinkLetter(key=b"k", value=b"x" * 10, headers=())
    assert fit(letter_, 5) is letter_
