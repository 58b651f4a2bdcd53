"""The native ingest (``native/src/ingest.rs``) makes of a record what the Python path makes.

``NativeIngest`` validates and normalises a record in one read of its bytes, or declines
it. Whatever it returns must be exactly what ``parse_statement`` then ``normalize``
return: the same events, field by field and type by type, or the same ``Ignored``; and
it may take only records the every-error validator finds valid. Checked on the ADL
conformance cases, on hypothesis-generated statements and mutations (each with a catalog
and vocabulary made to credit it, so the skill rules run on generated IRIs), on the
simulator's traffic, and on statements built for each rule of ``normalize``.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_xapi_conformance import CASE_FILES, conformance_dir
from test_xapi_properties import PROPERTY_SETTINGS, mutated, versioned_statements

from schemas.catalog import ActivityMapping, Catalog, CompetencyTypes, Ladder, Role, Skill
from schemas.events import DERIVED, EventKind, LearningEvent
from schemas.identity import learner_keys
from schemas.normalize import (
    SKILLS_EXTENSION,
    Ignored,
    NativeIngest,
    event_time,
    normalize,
    statement_id_of,
)
from schemas.trusted import trusted
from schemas.vocabulary import CMI5_CATEGORY, SATISFIED, VerbActivityRule, Vocabulary
from schemas.xapi import XapiVersion, parse_statement
from schemas.xapi.parse import native
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_vocabulary
from streams.core.state import python_statement_key, to_micros
from streams.pipeline import Ingest
from tools.simulate import Simulation

SECRET = b"native-ingest-test-secret"
RECORD_TIME = 1_767_600_000_000  # 2026-01-05, milliseconds since the epoch

pytestmark = pytest.mark.skipif(
    not NativeIngest.available(SECRET), reason="the native module is not built (make compile)"
)


def _typed(outcome: tuple[LearningEvent, ...] | Ignored) -> Any:
    """An outcome with each field's type and repr (1 == 1.0 == True, 0.0 == -0.0 must not
    pass); each event's ``DERIVED`` values, where it holds them, checked against its fields."""
    if isinstance(outcome, Ignored):
        return outcome
    for event in outcome:
        _check_derived(event)
    return [
        [(k, type(event.__dict__[k]), repr(event.__dict__[k])) for k in LearningEvent.model_fields]
        for event in outcome
    ]


def _check_derived(event: LearningEvent) -> bool:
    """Whether ``event`` holds ``DERIVED`` values; they must be what the profile core would
    work out from its fields (the Python functions are the reference)."""
    derived = event.__dict__.get(DERIVED)
    if derived is None:
        return False
    sid, time, hi, lo, micros = derived
    assert sid is event.statement_id
    assert time is event.time
    assert (hi, lo, False) == python_statement_key(sid)
    assert type(micros) is int
    assert micros == to_micros(time)
    assert set(event.__dict__) == {*LearningEvent.model_fields, DERIVED}
    return True


def _same(
    raw: bytes,
    catalog: Catalog,
    vocabulary: Vocabulary,
    header: str | None = None,
    fallback: int | None = RECORD_TIME,
) -> bool:
    """Check the native ingest on one record; return whether it took it."""
    try:
        got = NativeIngest(catalog, vocabulary, SECRET).take(raw, header, "2.0.0", fallback)
    except OverflowError:  # a time past year 1 or 9999 in UTC: Python's path fails alike
        got = OverflowError
    if got is None:
        return False
    statement, _, problems = parse_statement(raw, header)
    assert problems == [], f"taken, yet invalid: {problems}"
    assert statement is not None
    try:
        expected = normalize(statement, catalog, vocabulary, SECRET, fallback)
    except OverflowError:
        assert got is OverflowError
        return True
    assert got is not OverflowError
    assert _typed(got) == _typed(expected)
    return True


@pytest.fixture(scope="module")
def sample() -> tuple[Catalog, Vocabulary]:
    return load_catalog(SAMPLE_CATALOG), load_vocabulary(None)


def test_every_conformance_case(sample: tuple[Catalog, Vocabulary]) -> None:
    directory = conformance_dir()
    paths = [directory / name for name, _ in CASE_FILES]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"xAPI conformance cases not found in {directory}")
    taken = 0
    for (_, header), path in zip(CASE_FILES, paths, strict=True):
        for text in path.read_bytes().splitlines():
            if text.strip():
                statement = orjson.loads(text)["statement"]
                _same(orjson.dumps(statement), *sample, header=header)
                if isinstance(statement, dict):
                    taken += _same(orjson.dumps(_with_id(statement)), *sample, header=header)
    assert taken > 100  # the valid cases in the common shapes, given an id


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _with_id(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with an id, as most are sent."""
    return statement if "id" in statement else {"id": STATEMENT_ID, **statement}


def _without_id(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement without its id: the derived one, from the parsed JSON, is used."""
    return {k: v for k, v in statement.items() if k != "id"}


STATEMENT_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _world(statement: dict[str, Any]) -> tuple[Catalog, Vocabulary]:
    """A catalog and vocabulary that credit ``statement``: its verb, its object mapped
    to a skill, each context activity's type a competency type, and a skill named after
    the last segment of every IRI in it (when that is an identifier)."""
    verb = _dict(statement.get("verb")).get("id")
    target = _dict(statement.get("object"))
    iris: list[str] = []
    types: list[str] = []
    for group in _dict(_dict(statement.get("context")).get("contextActivities")).values():
        for activity in [group] if isinstance(group, dict) else _list(group):
            if isinstance(activity, dict) and isinstance(activity.get("id"), str):
                iris.append(activity["id"])
                kind = _dict(activity.get("definition")).get("type")
                if isinstance(kind, str):
                    types.append(kind)
    items: list[Any] = [CompetencyTypes(types=tuple(types))]
    skills = {"mapped"}
    for iri in iris:
        segment = iri.split("#")[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1].lower()
        if segment and segment.isascii() and segment[0].isalnum():
            skills.add("".join(c if c.isalnum() or c in "_.:-" else "-" for c in segment))
    items += [Skill(id=s, name=s, category="technical") for s in sorted(skills)]
    if isinstance(target.get("id"), str):
        items.append(ActivityMapping(activity_id=target["id"], skills=("mapped",)))
    verbs = {verb: EventKind.COURSE_COMPLETED} if isinstance(verb, str) else {}
    try:
        vocabulary = Vocabulary(verbs=verbs)
    except ValueError:  # the voided verb is built in
        vocabulary = Vocabulary()
    return Catalog(items), vocabulary


@PROPERTY_SETTINGS
@given(versioned_statements())
def test_generated_statements(case: tuple[XapiVersion, dict[str, Any]]) -> None:
    rules, statement = case
    header = "2.0.0" if rules is XapiVersion.V2_0 else "1.0.3"
    raw = orjson.dumps(_with_id(statement))
    _same(raw, *_world(statement), header=header)
    _same(raw, Catalog(), Vocabulary(), header=header)  # unknown verb, no skills
    _same(orjson.dumps(_without_id(statement)), *_world(statement), header=header)


@PROPERTY_SETTINGS
@given(mutated())
def test_mutated_statements(case: tuple[XapiVersion, dict[str, Any]]) -> None:
    rules, statement = case
    header = "2.0.0" if rules is XapiVersion.V2_0 else "1.0.3"
    try:
        raw = orjson.dumps(_with_id(statement))
    except (TypeError, orjson.JSONEncodeError):
        return  # no JSON holds it: no record can carry it
    _same(raw, *_world(statement), header=header)


def test_the_simulators_traffic(sample: tuple[Catalog, Vocabulary]) -> None:
    taken = valid = 0
    for raw in Simulation(60, 45, 11):
        statement, _, problems = parse_statement(raw)
        valid += statement is not None and not problems
        taken += _same(raw, *sample)
    assert valid > 1000
    # What LMSs send is what the native ingest is for.
    assert taken >= valid * 0.9, (taken, valid)


def test_the_simulators_events_carry_what_the_core_derives(
    sample: tuple[Catalog, Vocabulary],
) -> None:
    fast = NativeIngest(*sample, SECRET)
    events = [
        event
        for raw in Simulation(60, 45, 3)
        if isinstance(got := fast.take(raw, None, "2.0.0", RECORD_TIME), tuple)
        for event in got
    ]
    carrying = sum(_check_derived(event) for event in events)
    # every statement of the simulator has a canonical id; those with a timestamp carry both
    assert carrying > 0.9 * len(events) > 250, (carrying, len(events))


@pytest.mark.parametrize(
    ("timestamp", "micros"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-01-05T07:00:11.569Z", 1_767_596_411_569_000),
        ("2026-01-05T09:00:11.569+02:00", 1_767_596_411_569_000),
        ("2026-01-04T21:30:11.569-09:30", 1_767_596_411_569_000),
        ("2026-01-05T07:00:11.5691239Z", 1_767_596_411_569_123),  # digits past 6 dropped
        ("2024-02-29T23:59:59.9Z", 1_709_251_199_900_000),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("1900-03-01T00:00:00+00:00", -2_203_891_200_000_000),
        ("1900-03-01T04:00:00+05:00", -2_203_894_800_000_000),  # 1900-02-28 in UTC
    ],
)
def test_the_event_time_read_natively(timestamp: str, micros: int) -> None:
    assert native.micros_of(timestamp) == micros
    assert to_micros(event_time(timestamp, None, None)) == micros  # type: ignore[arg-type]
    # the event's time made natively (a timestamp with an offset written again in UTC)
    raw = orjson.dumps({**BASE, "timestamp": timestamp})
    assert _same(raw, Catalog(), load_vocabulary(None))
    (got,) = NativeIngest(Catalog(), load_vocabulary(None), SECRET).take(raw, None, "2.0.0", None)
    assert _check_derived(got)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-05T07:00:11",  # no offset: UTC by the Python path
        "2026-01-05t07:00:11Z",
        "2026-01-05T07:00:11z",
        "2026-01-05T07:00:11.Z",
        "2026-01-05T07:00:11,5Z",
        "2026-01-05T07:00:11.1234567890Z",
        "2026-01-05T07:00:11+0200",
        "2026-01-05T07:00:11+02",
        "2026-01-05T07:00:11+24:00",
        "2026-01-05T07:00:11+02:60",
        "2026-02-29T07:00:11Z",
        "2026-04-31T07:00:11Z",
        "2026-13-01T07:00:11Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T07:60:00Z",
        "2026-01-05T07:00:60Z",
        "1899-12-31T23:59:59Z",
        "9001-01-01T00:00:00Z",
        "2026-01-05 07:00:11Z",
        "+2026-01-05T07:00:11Z",
        "２０２６-01-05T07:00:11Z",
        "",
    ],
)
def test_other_event_times_are_left_to_python(timestamp: str) -> None:
    assert native.micros_of(timestamp) is None


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(8999, 12, 30)),
    st.integers(0, 9),
    st.one_of(st.just("Z"), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
)
def test_generated_event_times_read_natively_as_python_reads_them(
    when: datetime, digits: int, offset: str | int
) -> None:
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{when.microsecond:06d}{when.second * 111:03d}"[:digits]
    if isinstance(offset, int):
        sign = "-" if offset < 0 else "+"
        text += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    else:
        text += offset
    assert native.micros_of(text) == to_micros(event_time(text, None, None))  # type: ignore[arg-type]
    # and the event's time, made natively, is the Python path's: its type, zone and fields
    assert _same(orjson.dumps({**BASE, "timestamp": text}), Catalog(), load_vocabulary(None))


# --- each rule of normalize, on statements built for it --------------------------------

BASE: dict[str, Any] = {
    "id": "6A1B2C3D-4E5F-4a6b-8c7d-0123456789AB",
    "actor": {"objectType": "Agent", "mbox": "mailto:Ada@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
    "object": {
        "id": "https://lms.example.com/courses/python-basics",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    },
    "timestamp": "2026-01-05T09:00:00Z",
}


def _with(**changes: Any) -> bytes:
    statement = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = statement
        for name in parents:
            node = node.setdefault(name, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return orjson.dumps(statement)


COMPETENCY = "http://id.tincanapi.com/activitytype/competency"
CASES: dict[str, bytes] = {
    "base": _with(),
    "ignored verb": _with(verb__id="http://adlnet.gov/expapi/verbs/launched"),
    "unknown verb": _with(verb__id="https://lms.example.com/verbs/daydreamed"),
    "verb on an activity type": _with(
        object__definition__type="http://adlnet.gov/expapi/activities/assessment"
    ),
    "an agent as object": _with(
        verb__id="http://adlnet.gov/expapi/verbs/attended",
        object={"objectType": "Agent", "mbox": "mailto:grace@example.com"},
    ),
    "catalog kind": _with(object__id="https://lms.example.com/certifications/cloud-architect"),
    "catalog kind on a failure": _with(
        verb__id="http://adlnet.gov/expapi/verbs/failed",
        object__id="https://lms.example.com/certifications/cloud-architect",
    ),
    "cmi5 completed": _with(context={"contextActivities": {"category": [{"id": CMI5_CATEGORY}]}}),
    "cmi5 passed": _with(
        verb__id="http://adlnet.gov/expapi/verbs/passed",
        context={"contextActivities": {"category": {"id": CMI5_CATEGORY}}},
    ),
    "cmi5 satisfied": _with(
        verb__id=SATISFIED, context={"contextActivities": {"category": [{"id": CMI5_CATEGORY}]}}
    ),
    "competencies in context": _with(
        context={
            "contextActivities": {
                "parent": [
                    {
                        "id": "https://skills.example.com/competencies/SQL/?x=1#top",
                        "definition": {"type": COMPETENCY},
                    },
                    {"id": "urn:skills:python", "definition": {"type": COMPETENCY}},
                    {
                        "id": "https://lms.example.com/assessments/people-management",
                        "definition": {"type": COMPETENCY},
                    },
                ],
                "other": {
                    "id": "https://skills.example.com/competencies/unknown-one",
                    "definition": {"type": COMPETENCY},
                },
                "grouping": [{"id": "https://skills.example.com/competencies/kubernetes"}],
            }
        }
    ),
    "a competency segment not in ASCII": _with(
        context={
            "contextActivities": {
                "other": [
                    {"id": "https://skills.example.com/c/ÉTÉ", "definition": {"type": COMPETENCY}}
                ]
            }
        }
    ),
    "skills extensions": _with(
        context={"extensions": {SKILLS_EXTENSION: ["python", 3, None, "sql", "python", "nope"]}},
        result={"extensions": {SKILLS_EXTENSION: "kubernetes", "https://x.example/e": {"a": 1}}},
    ),
    "a skills extension as an object": _with(
        result={"extensions": {SKILLS_EXTENSION: {"python": True}}}
    ),
    "a skills extension given twice": orjson.dumps(BASE)[:-1]
    + b',"context":{"extensions":{"'
    + SKILLS_EXTENSION.encode()
    + b'":"python","'
    + SKILLS_EXTENSION.encode()
    + b'":"sql"}}}',
    "an escaped skill": orjson.dumps(BASE)[:-1]
    + b',"result":{"extensions":{"'
    + SKILLS_EXTENSION.encode()
    + b'":"py\\u0074hon"}}}',
    "a competency object": _with(
        object={
            "id": "https://skills.example.com/competencies/System-Design/",
            "definition": {"type": COMPETENCY},
        }
    ),
    "scaled score": _with(result={"score": {"scaled": 1}, "success": True, "completion": False}),
    "raw score": _with(result={"score": {"raw": 7, "min": 2, "max": 12}}),
    "raw score, floats": _with(result={"score": {"raw": 0.1, "min": -0.3, "max": 0.7}}),
    "raw score, huge floats": _with(
        result={"score": {"raw": 1e308, "min": -1.7e308, "max": 1.7e308}}
    ),
    "raw score, integers past 52 bits": _with(
        result={"score": {"raw": 2**53 - 1, "min": -(2**53) + 1, "max": 2**53}}
    ),
    "a scaled score of -0": _with(result={"score": {"scaled": 0}}).replace(
        b'"scaled":0', b'"scaled":-0'
    ),
    "a raw score of -0.0": _with(result={"score": {"raw": -0.0, "min": -1, "max": 1}}),
    "raw without min": _with(result={"score": {"raw": 7, "max": 12}}),
    "duration": _with(result={"duration": "PT1H30M12.5S"}),
    "a duration of every unit": _with(result={"duration": "P1Y2M3DT4H5M6.000001S"}),
    "a duration in days": _with(result={"duration": "P0010D"}),
    "a duration past a float": _with(result={"duration": "PT" + "9" * 400 + "S"}),
    "mbox_sha1sum": _with(
        actor={"mbox_sha1sum": hashlib.sha1(b"mailto:x@example.com").hexdigest().upper()}
    ),
    "account": _with(actor={"account": {"homePage": "https://lms.example.com", "name": "u-17"}}),
    "openid": _with(actor={"openid": "https://id.example.com/ada"}),
    "a group": _with(
        actor={
            "objectType": "Group",
            "member": [{"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}],
        }
    ),
    # one learner named twice (by mbox and by its SHA-1): one event, in the members' order
    "a group naming a learner twice": _with(
        actor={
            "objectType": "Group",
            "name": "Cohort 7",
            "member": [
                {"mbox": "mailto:b@example.com"},
                {"openid": "https://id.example.com/ada"},
                {"mbox_sha1sum": hashlib.sha1(b"mailto:b@example.com").hexdigest()},
                {"objectType": "Agent", "account": {"homePage": "https://e.x", "name": "u"}},
            ],
        }
    ),
    "a group of many members, two learners": _with(
        actor={
            "objectType": "Group",
            "member": [{"mbox": f"mailto:{'ab'[i % 2]}@example.com"} for i in range(600)],
        }
    ),
    "an identified group": _with(
        actor={"objectType": "Group", "account": {"homePage": "https://e.x", "name": "team-4"}}
    ),
    "an identified group with members": _with(
        actor={
            "objectType": "Group",
            "mbox": "mailto:team@example.com",
            "member": [{"mbox": "mailto:a@example.com"}],
        }
    ),
    "an identified group with no members": _with(
        actor={"objectType": "Group", "mbox": "mailto:team@example.com", "member": []}
    ),
    # valid, yet left to the Python path
    "a group as the object": _with(
        object={"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]}
    ),
    # invalid: each left to the every-error validator
    "an anonymous group with no members": _with(actor={"objectType": "Group", "member": []}),
    "a group within a group": _with(
        actor={
            "objectType": "Group",
            "member": [{"objectType": "Group", "mbox": "mailto:a@example.com"}],
        }
    ),
    "a group with two identifiers": _with(
        actor={
            "objectType": "Group",
            "mbox": "mailto:team@example.com",
            "openid": "https://id.example.com/team",
            "member": [{"mbox": "mailto:a@example.com"}],
        }
    ),
    "a member without identifier": _with(
        actor={"objectType": "Group", "member": [{"name": "Ada"}]}
    ),
    "an agent with members": _with(
        actor={"mbox": "mailto:a@example.com", "member": [{"mbox": "mailto:b@example.com"}]}
    ),
    "stored only": _with(timestamp=None, stored="2026-01-06T10:00:00+02:00"),
    "no time": _with(timestamp=None),
    "an offset": _with(timestamp="2026-01-05T09:00:00.123456789+05:30"),
    "a late hour, lower case": _with(timestamp="2026-01-05t23:59:59z"),
    "no id": _with(id=None),
    "declared 1.0.3": _with(version="1.0.3"),
    "declared 2.0.7": _with(version="2.0.7"),
    "declared 3.0": _with(version="3.0"),
    "invalid": _with(verb__id="not an iri"),
    # Bytes that are not UTF-8 in a value the reader skips: the whole record is checked.
    "not UTF-8 in an extension": _with(
        result__extensions={"https://lms.example.com/ext/note": "NOTE"}
    ).replace(b"NOTE", b"a\xffb"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fallback", [RECORD_TIME, None])
def test_each_rule(name: str, fallback: int | None, sample: tuple[Catalog, Vocabulary]) -> None:
    _same(CASES[name], *sample, fallback=fallback)


# Records the native ingest must take: if it declined them, the tests above would pass
# without checking anything.
TAKEN = [
    "base", "ignored verb", "unknown verb", "verb on an activity type", "an agent as object",
    "catalog kind", "catalog kind on a failure", "cmi5 completed", "cmi5 passed",
    "cmi5 satisfied", "competencies in context", "skills extensions",
    "a skills extension as an object", "a skills extension given twice", "a competency object",
    "scaled score", "raw score", "raw score, floats", "raw score, huge floats",
    "raw without min", "duration", "a duration of every unit", "a duration in days",
    "a duration past a float", "mbox_sha1sum", "account", "openid", "stored only",
    "no time", "an offset", "declared 1.0.3", "a group", "a group naming a learner twice",
    "a group of many members, two learners", "no id",
    "an identified group", "an identified group with members",
    "an identified group with no members",
]  # fmt: skip
DECLINED = [
    "a competency segment not in ASCII", "an escaped skill", "raw score, integers past 52 bits",
    "a scaled score of -0", "a raw score of -0.0", "declared 2.0.7", "declared 3.0", "invalid", "a late hour, lower case", "not UTF-8 in an extension",
    "a group as the object", "an anonymous group with no members", "a group within a group",
    "a group with two identifiers", "a member without identifier", "an agent with members",
]  # fmt: skip


def test_the_cases_it_takes_and_declines(sample: tuple[Catalog, Vocabulary]) -> None:
    assert sorted(TAKEN + DECLINED) == sorted(CASES)
    fast = NativeIngest(*sample, SECRET)
    taken = [
        name for name in CASES if fast.take(CASES[name], None, "2.0.0", RECORD_TIME) is not None
    ]
    assert sorted(taken) == sorted(TAKEN)


def test_what_the_native_read_hands_back(sample: tuple[Catalog, Vocabulary]) -> None:
    """The shapes of ``Normalizer.ingest``'s answer, which ``NativeIngest`` relies on."""
    fast = NativeIngest(*sample, SECRET)
    normalizer = fast._build()
    # every value final: the event itself, built as trusted builds it
    (event,) = normalizer.ingest(CASES["skills extensions"], True)
    assert type(event) is LearningEvent
    assert _typed((event,)) == _typed(fast.take(CASES["skills extensions"], None, "2.0.0", None))
    assert event.model_fields_set is trusted(LearningEvent, dict(event.__dict__)).model_fields_set
    assert _check_derived(event)
    # a time, an id or learners left for Python to finish: the values
    for name in ("stored only", "no id", "a group of many members, two learners"):
        values, _ = normalizer.ingest(CASES[name], True)
        assert type(values) is dict, name
    # an ignored verb: the vocabulary's outcome, one object for every statement of it
    ignored = normalizer.ingest(CASES["ignored verb"], True)
    assert ignored is normalizer.ingest(CASES["ignored verb"], True)
    assert type(ignored) is Ignored
    assert ignored == normalize(
        parse_statement(CASES["ignored verb"])[0],
        *sample,
        SECRET,  # type: ignore[arg-type]
    )
    assert normalizer.ingest(CASES["unknown verb"], True) == (
        1,
        orjson.loads(CASES["unknown verb"])["verb"]["id"],
    )


def test_what_the_cases_come_to(sample: tuple[Catalog, Vocabulary]) -> None:
    """A few outcomes spelled out, so that both paths being wrong alike shows too."""
    fast = NativeIngest(*sample, SECRET)
    (event,) = fast.take(CASES["skills extensions"], None, "2.0.0", None)
    assert event.skills == ("kubernetes", "python", "sql")
    assert event.statement_id == "6a1b2c3d-4e5f-4a6b-8c7d-0123456789ab"
    assert event.time == datetime(2026, 1, 5, 9, tzinfo=UTC)
    (event,) = fast.take(CASES["cmi5 passed"], None, "2.0.0", None)
    assert event.kind is EventKind.SKILL_ASSESSED
    (event,) = fast.take(CASES["raw score"], None, "2.0.0", None)
    assert event.score == 0.5
    (event,) = fast.take(CASES["duration"], None, "2.0.0", None)
    assert event.duration_seconds == 5412.5
    (event,) = fast.take(CASES["a duration past a float"], None, "2.0.0", None)
    assert event.duration_seconds is None
    (event,) = fast.take(CASES["stored only"], None, "2.0.0", None)
    assert event.time == datetime(2026, 1, 6, 8, tzinfo=UTC)
    assert fast.take(CASES["no time"], None, "2.0.0", None) == Ignored(
        "no_time", "no timestamp, no stored time and no record time"
    )
    assert fast.take(CASES["ignored verb"], None, "2.0.0", None).code == "ignored_verb"
    (event,) = fast.take(CASES["no id"], None, "2.0.0", None)
    assert event.statement_id == statement_id_of(orjson.loads(CASES["no id"]))
    assert event.statement_id != "6a1b2c3d-4e5f-4a6b-8c7d-0123456789ab"
    # a Group: an event per learner, each learner once, in the members' order
    events = fast.take(CASES["a group naming a learner twice"], None, "2.0.0", None)
    assert [e.learner for e in events] == [
        learner_keys({"mbox": "mailto:b@example.com"}, SECRET)[0],
        learner_keys({"openid": "https://id.example.com/ada"}, SECRET)[0],
        learner_keys({"account": {"homePage": "https://e.x", "name": "u"}}, SECRET)[0],
    ]
    assert len({e.statement_id for e in events}) == 1
    (event,) = fast.take(CASES["an identified group with members"], None, "2.0.0", None)
    assert event.learner == learner_keys({"mbox": "mailto:a@example.com"}, SECRET)[0]
    (event,) = fast.take(CASES["an identified group with no members"], None, "2.0.0", None)
    assert event.learner == learner_keys({"mbox": "mailto:team@example.com"}, SECRET)[0]


def test_a_catalog_change_reaches_it(sample: tuple[Catalog, Vocabulary]) -> None:
    catalog = Catalog([Skill(id="python", name="Python", category="technical")])
    fast = NativeIngest(catalog, sample[1], SECRET)
    (event,) = fast.take(CASES["base"], None, "2.0.0", None)
    assert event.skills == ()
    learner = event.learner
    catalog.put(ActivityMapping(activity_id=BASE["object"]["id"], skills=("python",)))
    (event,) = fast.take(CASES["base"], None, "2.0.0", None)
    assert event.skills == ("python",)
    assert event.learner == learner  # the keys worked out before are kept, and right
    catalog.remove("skill:python")
    (event,) = fast.take(CASES["base"], None, "2.0.0", None)
    assert event.skills == ()


def test_the_catalog_revision_moves_with_what_normalisation_reads() -> None:
    catalog = Catalog()
    changes = [
        lambda: catalog.put(Skill(id="python", name="Python", category="technical")),
        lambda: catalog.put(
            ActivityMapping(activity_id="https://lms.example.com/x", skills=("python",))
        ),
        lambda: catalog.put(CompetencyTypes(types=(COMPETENCY,))),
        lambda: catalog.remove("activity:https://lms.example.com/x"),
        lambda: catalog.remove("competency_types"),
        lambda: catalog.remove("skill:python"),
    ]
    seen = [catalog.revision]
    for change in changes:
        change()
        seen.append(catalog.revision)
    assert len(set(seen)) == len(seen)  # each change moved it
    ladder = Ladder(
        id="data", name="Data", roles=(Role(id="analyst", name="Analyst", requires=()),)
    )
    catalog.put(ladder)
    catalog.remove("ladder:data")
    assert catalog.revision == seen[-1]  # a ladder is not read by normalisation


def test_a_vocabulary_rule_reaches_it() -> None:
    rule = VerbActivityRule(
        verbs=(BASE["verb"]["id"],),
        activity_types=(BASE["object"]["definition"]["type"],),
        kind=EventKind.EVENT_ATTENDED,
    )
    vocabulary = Vocabulary(verbs={BASE["verb"]["id"]: EventKind.COURSE_COMPLETED}, rules=(rule,))
    assert _same(CASES["base"], Catalog(), vocabulary)
    (event,) = NativeIngest(Catalog(), vocabulary, SECRET).take(CASES["base"], None, "2.0.0", None)
    assert event.kind is EventKind.EVENT_ATTENDED


def test_the_header_picks_the_rules_of_a_statement_without_version() -> None:
    # "2.0.0" has no "1.0.3"-only shapes; a 2.0 context language tag check stands for one:
    # what matters is that an unsupported header leaves the record to the Python path.
    fast = NativeIngest(Catalog(), load_vocabulary(None), SECRET)
    assert fast.take(CASES["base"], "1.0.3", "2.0.0", None) is not None
    assert fast.take(CASES["base"], "9.9", "2.0.0", None) is None
    assert fast.take(CASES["base"], None, "bogus", None) is None
    # the rules of the last record's versions are remembered: asked again when either moves
    assert fast.take(CASES["base"], None, "bogus", None) is None
    assert fast.take(CASES["base"], None, "2.0.0", None) is not None
    assert fast.take(CASES["base"], "".join(["9", ".9"]), "2.0.0", None) is None
    assert fast.take(CASES["base"], "".join(["9", ".9"]), "2.0.0", None) is None
    assert fast.take(CASES["base"], "1.0.3", "".join(["2.0", ".0"]), None) is not None


def test_a_failure_of_the_native_path_leaves_the_record_to_python(
    sample: tuple[Catalog, Vocabulary],
) -> None:
    ingest = Ingest(*sample, SECRET)
    python = Ingest(*sample, SECRET)
    python.fast = None

    class Broken:
        calls = 0

        def ingest(self, *_: Any) -> None:
            Broken.calls += 1
            raise RuntimeError("a bug of the native path")

    assert ingest.fast is not None
    ingest.fast._build()  # the normalizer of this catalog, then a broken ingest in its place
    ingest.fast._ingest = Broken().ingest
    got = ingest.record(CASES["base"], None, RECORD_TIME)
    assert Broken.calls == 1
    assert isinstance(got, tuple)
    assert _typed(got) == _typed(python.record(CASES["base"], None, RECORD_TIME))
    assert ingest.counts.dead_lettered == 0


def test_ingest_takes_the_native_path_and_counts_alike(sample: tuple[Catalog, Vocabulary]) -> None:
    records = list(Simulation(20, 30, 5))
    native = Ingest(*sample, SECRET)
    python = Ingest(*sample, SECRET)
    assert native.fast is not None
    python.fast = None
    for raw in records:
        got = native.record(raw, None, RECORD_TIME)
        expected = python.record(raw, None, RECORD_TIME)
        if isinstance(expected, tuple):
            assert _typed(got) == _typed(expected)
        else:
            assert got == expected
    assert native.counts == python.counts
