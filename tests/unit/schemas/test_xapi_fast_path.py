"""The validator's fast path agrees with the every-error validator.

``schemas.xapi.fast.accepts`` may decline anything, but what it accepts must be valid:
``validate_statement`` (fast path first) must answer exactly what ``every_problem``
(the every-error validator alone) answers. Checked on every ADL conformance case, on
hypothesis-generated statements and mutations of them, on the simulator's traffic, and
on near-valid statements built to sit on each rule's edge. ``make test-compiled`` runs
this file against the mypyc-compiled fast path too.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_xapi_conformance import CASE_FILES, _attachment_parts, conformance_dir
from test_xapi_properties import PROPERTY_SETTINGS, mutated, versioned_statements

from schemas.compiled import load_native
from schemas.xapi import XapiVersion, resolve_version, validate_statement
from schemas.xapi.fast import accepts
from schemas.xapi.validator import every_problem
from tools.simulate import Simulation

V1 = XapiVersion.V1_0_3
V2 = XapiVersion.V2_0
NATIVE = load_native()
"""The fast path in Rust (``native/``, ``make compile``), which reads a record's bytes."""


def _native_agrees(raw: bytes, rules: XapiVersion) -> bool:
    """Check the native fast path on one record; return whether it accepted it."""
    if NATIVE is None:
        return False
    taken: bool = NATIVE.accepts(raw, rules == V2)
    if taken:
        full = every_problem(orjson.loads(raw), rules)
        assert full == [], f"the native fast path accepted an invalid statement: {full}"
    return taken


def _agree(statement: Any, rules: XapiVersion, hashes: list[str] | None = None) -> bool:
    """Check one statement both ways; return whether the fast path accepted it."""
    before = copy.deepcopy(statement)
    full = every_problem(statement, rules, attachment_hashes=hashes)
    taken = accepts(statement, rules == V2)
    if taken:
        assert full == [], f"the fast path accepted an invalid statement: {full}"
    try:
        raw = orjson.dumps(statement)
    except (TypeError, orjson.JSONEncodeError):
        raw = b""  # no JSON holds it (an integer past 64 bits): no record can carry it
    if raw and orjson.loads(raw) == statement and hashes is None:  # NaN is written as null
        _native_agrees(raw, rules)
    assert validate_statement(statement, rules, attachment_hashes=hashes) == full
    assert statement == before
    return taken


def test_every_conformance_case() -> None:
    directory = conformance_dir()
    paths = [directory / name for name, _ in CASE_FILES]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"xAPI conformance cases not found in {directory}")
    accepted = valid = cases = 0
    for (_, header), path in zip(CASE_FILES, paths, strict=True):
        for text in path.read_bytes().splitlines():
            if not text.strip():
                continue
            case = orjson.loads(text)
            statement = case["statement"]
            rules, _ = resolve_version(statement, header)
            cases += 1
            if rules is None:
                continue
            accepted += _agree(statement, rules, _attachment_parts(case))
            valid += case["expect"] == 200
    assert cases == 1922
    # The cases are about edges (groups, substatements, attachments, signatures...), so
    # the fast path takes few of their valid statements (134 of 692 when written), but
    # enough that this comparison is not empty.
    assert valid > 600
    assert accepted >= 100, (accepted, valid)


@PROPERTY_SETTINGS
@given(versioned_statements())
def test_generated_statements(case: tuple[XapiVersion, dict[str, Any]]) -> None:
    _agree(case[1], case[0])


@PROPERTY_SETTINGS
@given(mutated())
def test_mutated_statements(case: tuple[XapiVersion, dict[str, Any]]) -> None:
    _agree(case[1], case[0])


def test_the_simulators_traffic() -> None:
    accepted = native = valid = 0
    for raw in Simulation(60, 45, 11):
        try:
            statement = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        rules, _ = resolve_version(statement, None)
        if rules is None:
            continue
        accepted += _agree(statement, rules)
        native += _native_agrees(raw, rules)
        valid += not every_problem(statement, rules)
    assert valid > 1000
    # The simulator sends what LMSs send: the fast path is for exactly that.
    assert accepted >= valid * 0.9, (accepted, valid)
    if NATIVE is not None:
        assert native >= valid * 0.9, (native, valid)


def _raw(path: str, text: bytes) -> bytes:
    """The base statement's bytes with the value at ``path`` written as ``text``."""
    return orjson.dumps(_set(path, "@hole@")).replace(b'"@hole@"', text)


RAW_EDGES = {
    "null id": lambda: _raw("id", b"null"),
    "null result": lambda: _raw("result", b"null"),
    "escaped verb": lambda: _raw("verb.id", rb'"http:\/\/adlnet.gov\/expapi\/verbs\/completed"'),
    "duplicate actor, the last invalid": lambda: _raw("version", b'"2.0.0","actor":{"mbox":"x"}'),
    "duplicate id, the last valid": lambda: _raw("version", b'"2.0.0","id":"' + _ID + b'"'),
    "score min above max": lambda: _raw("result.score", b'{"min":2,"max":1}'),
    "integer past 53 bits": lambda: _raw("result.score", b'{"raw":9007199254740993}'),
    "boolean score": lambda: _raw("result.score.raw", b"true"),
    "deep extension": lambda: _raw("result.extensions", b'{"https://e.x/a":[[1]]}'),
    "not JSON": lambda: orjson.dumps(_base())[:-1],
    # serde reads a struct from an array too (by position): each must still be declined
    "result as an array": lambda: _raw("result", b"[]"),
    "context as an array": lambda: _raw("context", b"[]"),
    "score as an array": lambda: _raw("result.score", b"[0.5]"),
    "verb as an array": lambda: _raw("verb", b'["http://adlnet.gov/expapi/verbs/completed"]'),
    "object as an array": lambda: _raw("object", b'["Activity","https://e.x/a"]'),
    "definition as an array": lambda: _raw("object.definition", b"[]"),
    "account as an array": lambda: _raw("actor", b'{"account":["https://e.x","bob"]}'),
    "a context activity as an array": lambda: _raw(
        "context.contextActivities.parent", b'[["Activity","https://e.x/p"]]'
    ),
    # decimals orjson reads as one double (so min is not below max): serde must read alike
    "min and max one digit apart": lambda: _raw(
        "result.score", b'{"min":9.904728166987386,"max":9.904728166987387}'
    ),
    "an integer past 64 bits": lambda: _raw(
        "result.score", b'{"min":2.3361436450306067e+23,"max":233614364503060672036190}'
    ),
}
_ID = b"43d06319-ab59-4ff1-9fe1-9116b5246b0a"


@pytest.mark.skipif(NATIVE is None, reason="no native module (make compile builds it)")
@pytest.mark.parametrize("name", sorted(RAW_EDGES))
def test_the_native_fast_path_on_raw_records(name: str) -> None:
    assert NATIVE is not None
    assert NATIVE.accepts(orjson.dumps(_base()), True), "the base statement is a common one"
    raw = RAW_EDGES[name]()
    try:
        statement = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assert name == "not JSON"
        assert not NATIVE.accepts(raw, True)
        return
    assert not _native_agrees(raw, V2), name  # each declined: the Python path decides
    problems = every_problem(statement, V2)
    if name in (
        "escaped verb",
        "duplicate id, the last valid",
        "deep extension",
        "integer past 53 bits",
    ):
        assert problems == [], name  # valid, but not for the native reader: declined
    else:
        assert problems, name  # invalid: accepting it would be the bug


def _base() -> dict[str, Any]:
    return {
        "id": "43d06319-ab59-4ff1-9fe1-9116b5246b0a",
        "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "done"}},
        "object": {
            "objectType": "Activity",
            "id": "https://lms.example.com/course/1",
            "definition": {
                "name": {"en-US": "Course 1"},
                "type": "http://adlnet.gov/expapi/activities/course",
                "extensions": {"https://example.com/x/tags": ["a", "b"]},
            },
        },
        "result": {
            "score": {"scaled": 0.5, "raw": 50, "min": 0, "max": 100},
            "success": True,
            "duration": "PT1H",
        },
        "context": {
            "registration": "53d06319-ab59-4ff1-9fe1-9116b5246b0a",
            "contextActivities": {"parent": [{"id": "https://lms.example.com/path/1"}]},
            "platform": "LMS",
            "language": "en-US",
        },
        "timestamp": "2026-01-05T08:15:17.921+01:00",
        "version": "2.0.0",
    }


def _set(path: str, value: Any) -> dict[str, Any]:
    statement = _base()
    *parents, last = path.split(".")
    node: Any = statement
    for key in parents:
        node = node[key]
    node[last] = value
    return statement


EDGES = {
    "scaled above 1": _set("result.score.scaled", 1.5),
    "raw below min": _set("result.score.raw", -1),
    "raw above max": _set("result.score.raw", 101),
    "min not below max": _set("result.score.min", 100),
    "a boolean score": _set("result.score.raw", True),
    "an infinite score": _set("result.score.max", float("inf")),
    "success as a string": _set("result.success", "true"),
    "a bad duration": _set("result.duration", "1 hour"),
    "two identifiers": _set("actor.account", {"homePage": "https://a.example", "name": "a"}),
    "a bad mbox": _set("actor.mbox", "ada@example.com"),
    "an account without name": _set("actor", {"account": {"homePage": "https://a.example"}}),
    "a verb without id": _set("verb", {"display": {"en-US": "done"}}),
    "voiding an activity": _set("verb.id", "http://adlnet.gov/expapi/verbs/voided"),
    "a bad language tag": _set("verb.display", {"en_US": "done"}),
    "an extension key that is no IRI": _set("object.definition.extensions", {"tags": 1}),
    "an interaction without its type": _set("object.definition.choices", []),
    "a 1.0.3 version under 2.0 rules": _set("version", "1.0.3"),
    "a timestamp without zone under 2.0 rules": _set("timestamp", "2026-01-05T08:15:17"),
    "a bad registration": _set("context.registration", "not-a-uuid"),
    "platform for an Agent object": _set(
        "object", {"objectType": "Agent", "mbox": "mailto:bob@example.com"}
    ),
    "a Group in contextActivities": _set("context.contextActivities.parent", [{"mbox": "x"}]),
    "an unknown property": _set("result.grade", "A"),
    "a null": _set("context.language", None),
    "a stored time without zone under 2.0 rules": _set("stored", "2026-01-05T08:15:18"),
    "an authority without identifier": _set("authority", {"name": "LRS"}),
    "an anonymous Group without members": _set("actor", {"objectType": "Group", "member": []}),
    "an anonymous Group without member list": _set("actor", {"objectType": "Group"}),
    "a Group in a Group": _set(
        "actor",
        {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:a@e.x"}]},
    ),
    "a Group with two identifiers": _set(
        "actor", {"objectType": "Group", "mbox": "mailto:a@e.x", "openid": "https://e.x/a"}
    ),
    "a Group member without identifier": _set(
        "actor", {"objectType": "Group", "member": [{"name": "Ada"}]}
    ),
    "a Group member list of null": _set(
        "actor", {"objectType": "Group", "mbox": "mailto:a@e.x", "member": None}
    ),
    "a Group with an id": _set(
        "actor", {"objectType": "Group", "id": "https://e.x/g", "mbox": "mailto:a@e.x"}
    ),
    "an Agent with members": _set(
        "actor", {"mbox": "mailto:a@e.x", "member": [{"mbox": "mailto:b@e.x"}]}
    ),
    "an Activity with members": _set("object.member", [{"mbox": "mailto:b@e.x"}]),
    "a Group whose name is null": _set(
        "actor", {"objectType": "Group", "name": None, "member": [{"mbox": "mailto:a@e.x"}]}
    ),
    "a Group whose members are an object": _set(
        "actor", {"objectType": "Group", "mbox": "mailto:t@e.x", "member": {}}
    ),
}
RARER_BUT_VALID = {
    "an extension value nested twice": _set(
        "object.definition.extensions", {"https://example.com/x/deep": [[0]]}
    ),
    "an instructor": _set("context.instructor", {"mbox": "mailto:tutor@example.com"}),
    "a Group as the object": {
        **_set("object", {"objectType": "Group", "member": [{"mbox": "mailto:ada@example.com"}]}),
        "context": {"language": "en-US"},  # no platform: an Activity's alone
    },
    "an OAuth authority (a Group of two)": _set(
        "authority",
        {
            "objectType": "Group",
            "member": [
                {"account": {"homePage": "https://lrs.example.com", "name": "client"}},
                {"mbox": "mailto:ada@example.com"},
            ],
        },
    ),
}


def test_the_base_statement_takes_the_fast_path() -> None:
    assert _agree(_base(), V2)
    forwarded = _set("stored", "2026-01-05T08:15:18.002Z")
    forwarded["authority"] = {"mbox": "mailto:lrs@example.com", "objectType": "Agent"}
    assert _agree(forwarded, V2)


@pytest.mark.parametrize("name", sorted(EDGES))
def test_an_invalid_edge_is_left_to_the_every_error_validator(name: str) -> None:
    statement = EDGES[name]
    assert not _agree(statement, V2)
    assert every_problem(statement, V2), name


@pytest.mark.parametrize("name", sorted(RARER_BUT_VALID))
def test_a_rarer_shape_is_left_to_the_every_error_validator(name: str) -> None:
    statement = RARER_BUT_VALID[name]
    assert not _agree(statement, V2)
    assert every_problem(statement, V2) == [], name


GROUPS = {
    "anonymous": {"objectType": "Group", "member": [{"mbox": "mailto:ada@example.com"}]},
    "identified": {"objectType": "Group", "name": "Team 4", "openid": "https://e.x/team-4"},
    "identified, with members": {
        "objectType": "Group",
        "account": {"homePage": "https://e.x", "name": "team-4"},
        "member": [
            {"objectType": "Agent", "mbox_sha1sum": "ab" * 20},
            {"account": {"homePage": "https://e.x", "name": "ada"}},
        ],
    },
    "identified, no members": {"objectType": "Group", "mbox": "mailto:t@e.x", "member": []},
}


@pytest.mark.parametrize("rules", [V1, V2])
@pytest.mark.parametrize("name", sorted(GROUPS))
def test_a_group_as_the_actor_takes_the_fast_path(name: str, rules: XapiVersion) -> None:
    statement = _set("actor", GROUPS[name])
    statement["version"] = "1.0.3" if rules is V1 else "2.0.0"
    assert _agree(statement, rules)
    if NATIVE is not None:
        assert NATIVE.accepts(orjson.dumps(statement), rules is V2)


def test_a_deep_extension_value_is_still_refused() -> None:
    deep: Any = 0
    for _ in range(60):
        deep = [deep]
    statement = _set("object.definition.extensions", {"https://example.com/x/deep": deep})
    assert not _agree(statement, V2)
    assert [p.code for p in every_problem(statement, V2)] == ["too_deep"]


# The native reader's format checks, one string at a time, against the every-error
# validator: IRIs and mailto addresses are checked exactly as in Python (language tags,
# which the native reader takes in their common forms only, are checked below). A string is a few pieces: mostly ones
# each form allows, and every character the checks treat apart (the refused ones, `%`
# and hex digits, a C1 control U+0080-U+009F, `C2 80`-`C2 9F` in UTF-8, and its
# neighbours, the separators of each form), so that one odd character in an otherwise
# good string comes up often.
_FORMAT_PIECES = [
    *("a", "Z9", "x/", ".", "-", ":", "@", "%", "2f", "G", "en", "US", "419"),
    *("\u00e9", "\u0080", "\u009f", "\u00a0", "\u20ac"),
    *" <>\"{}|\\^`\x7f\t,;[]()?#!~'_+",
]
_FORMAT_TEXT = st.lists(st.sampled_from(_FORMAT_PIECES), max_size=8).map("".join)
_FORMAT_PLACES = {  # where a string goes, and what it is built into
    "verb.id": lambda text: "http" + text,
    "object.definition.type": lambda text: text,
    "object.definition.extensions": lambda text: {"x" + text: 1},
    "actor.mbox": lambda text: f"mailto:{text}@example.com",
}


@pytest.mark.skipif(NATIVE is None, reason="no native module (make compile builds it)")
@settings(PROPERTY_SETTINGS, max_examples=1500)
@given(st.sampled_from(sorted(_FORMAT_PLACES)), _FORMAT_TEXT)
@example("verb.id", "s://x/%2f")
@example("verb.id", "s://x/%2")
@example("verb.id", "s://x/%g0")
@example("verb.id", "s://x/\u0080")
@example("verb.id", "s://x/\u009f")
@example("verb.id", "s://x/\u00a0\u00e9")
@example("verb.id", "s:")
@example("verb.id", "+s:x")
@example("object.definition.extensions", "y:%41")
@example("actor.mbox", "a.b")
@example("actor.mbox", "a..b")
@example("actor.mbox", "\u00e9\u20ac")
@example("actor.mbox", "a@b")
def test_the_native_format_checks_agree_with_the_validator(place: str, text: str) -> None:
    assert NATIVE is not None
    statement = _set(place, _FORMAT_PLACES[place](text))
    raw = orjson.dumps(statement)
    taken = _native_agrees(raw, V2)  # taken: valid (checked there)
    escaped = b"\\" in raw  # the native reader declines a string written with escapes
    if not escaped:
        assert taken == (every_problem(statement, V2) == []), (place, text)


@pytest.mark.skipif(NATIVE is None, reason="no native module (make compile builds it)")
@pytest.mark.parametrize("odd", ["<", " ", "%", "%4", "\u0085", "\u00e9", "\u20ac"])
def test_one_odd_character_anywhere_in_a_long_iri(odd: str) -> None:
    """The native check reads the bytes after the colon eight at a time: one odd character
    at every position of a long IRI (first, last, and either side of each eight) is read
    as the validator reads it."""
    for at in range(27):
        iri = "s://" + "a" * at + odd + "b" * (26 - at)
        statement = _set("verb.id", iri)
        taken = _native_agrees(orjson.dumps(statement), V2)
        assert taken == (every_problem(statement, V2) == []), iri


_COMMON_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-[A-Za-z]{2}|-[0-9]{3})?")
"""The language tags the native reader takes: a language, then a script, a region."""
_SUBTAGS = ["en", "zh", "eng", "e", "a", "US", "TW", "419", "41", "Latn", "Hant", "abcde", "x"]


@pytest.mark.skipif(NATIVE is None, reason="no native module (make compile builds it)")
@settings(PROPERTY_SETTINGS, max_examples=500)
@given(
    st.sampled_from(["context.language", "verb.display"]),
    st.lists(st.sampled_from([*_SUBTAGS, "", "\u00e9", "1"]), min_size=1, max_size=4).map("-".join),
)
def test_the_native_reader_takes_the_common_language_tags(place: str, tag: str) -> None:
    statement = _set(place, tag if place == "context.language" else {tag: "done"})
    taken = _native_agrees(orjson.dumps(statement), V2)  # taken: valid (checked there)
    assert taken == bool(_COMMON_TAG.fullmatch(tag)), tag
