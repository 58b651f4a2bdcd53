"""Properties of the validator over generated statements (hypothesis).

* A generated valid statement is valid, survives an orjson round trip
  unchanged, and is still valid after it, through ``parse_statement`` too.
* Any mutation of a valid statement (a key dropped, a value replaced or
  retyped, junk inserted, anything set to null) is accepted or rejected with
  well-formed problems; the validator never raises and never mutates.
* Any JSON value and any bytes go through without an exception.
* Every timestamp the validator accepts parses with ``datetime.fromisoformat``.
"""

from __future__ import annotations

import copy
import string
from datetime import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.xapi import StatementProblem, XapiVersion, parse_statement, validate_statement
from schemas.xapi.formats import is_timestamp

V1 = XapiVersion.V1_0_3
V2 = XapiVersion.V2_0
HEADER = {V1: "1.0.3", V2: "2.0.0"}
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

Json = Any

# -- building blocks -------------------------------------------------------------

segment = st.text(string.ascii_letters + string.digits + "-._~", min_size=1, max_size=12)
iris = st.builds(
    lambda scheme, host, parts: f"{scheme}://{host}.example.com/" + "/".join(parts),
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
    st.lists(segment, max_size=4),
) | st.builds(lambda n: f"urn:uuid:{n}", st.uuids().map(str))
language_tags = st.sampled_from(
    [
        "en",
        "en-US",
        "en-GB",
        "de",
        "de-DE",
        "fr-CA",
        "es-419",
        "zh-Hant",
        "zh-Hans-CN",
        "sr-Latn-RS",
        "tlh",
        "cmn",
        "ja",
        "pt-BR",
        "x-skills",
    ]
)
texts = st.text(max_size=30)
language_maps = st.dictionaries(language_tags, texts, max_size=3)
uuids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
emails = st.from_regex(
    r"[a-z0-9][a-z0-9._+-]{0,15}@[a-z0-9-]{1,12}\.(com|org|example)", fullmatch=True
)
mbox = emails.map(lambda e: "mailto:" + e).filter(lambda m: ".." not in m and ".@" not in m)
sha1 = st.binary(min_size=20, max_size=20).map(bytes.hex)
accounts = st.fixed_dictionaries({"homePage": iris, "name": texts})
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | texts
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
extensions = st.dictionaries(iris, json_values, max_size=3)


def _identifier() -> st.SearchStrategy[dict[str, Json]]:
    return st.one_of(
        mbox.map(lambda v: {"mbox": v}),
        sha1.map(lambda v: {"mbox_sha1sum": v}),
        iris.map(lambda v: {"openid": v}),
        accounts.map(lambda v: {"account": v}),
    )


@st.composite
def agents(draw: st.DrawFn, object_type: bool | None = None) -> dict[str, Json]:
    agent = draw(_identifier())
    if object_type if object_type is not None else draw(st.booleans()):
        agent["objectType"] = "Agent"
    if draw(st.booleans()):
        agent["name"] = draw(texts)
    return agent


@st.composite
def groups(draw: st.DrawFn, anonymous: bool | None = None) -> dict[str, Json]:
    group: dict[str, Json] = {"objectType": "Group"}
    if anonymous if anonymous is not None else draw(st.booleans()):
        group["member"] = draw(st.lists(agents(), min_size=1, max_size=3))
    else:
        group.update(draw(_identifier()))
        if draw(st.booleans()):
            group["member"] = draw(st.lists(agents(), max_size=3))
    if draw(st.booleans()):
        group["name"] = draw(texts)
    return group


actors = agents() | groups()
verbs = st.fixed_dictionaries({"id": iris}, optional={"display": language_maps})

INTERACTION_LISTS = {
    "true-false": (),
    "choice": ("choices",),
    "fill-in": (),
    "long-fill-in": (),
    "matching": ("source", "target"),
    "performance": ("steps",),
    "sequencing": ("choices",),
    "likert": ("scale",),
    "numeric": (),
    "other": (),
}


@st.composite
def components(draw: st.DrawFn) -> list[dict[str, Json]]:
    ids = draw(st.lists(segment, max_size=4, unique=True))
    return [
        {"id": i, **({"description": draw(language_maps)} if draw(st.booleans()) else {})}
        for i in ids
    ]


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Json]:
    optional: dict[str, st.SearchStrategy[Json]] = {
        "name": language_maps,
        "description": language_maps,
        "type": iris,
        "moreInfo": iris,
        "extensions": extensions,
    }
    definition: dict[str, Json] = draw(st.fixed_dictionaries({}, optional=optional))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(INTERACTION_LISTS)))
        definition["interactionType"] = kind
        if draw(st.booleans()):
            definition["correctResponsesPattern"] = draw(st.lists(texts, max_size=3))
        for key in INTERACTION_LISTS[kind]:
            if draw(st.booleans()):
                definition[key] = draw(components())
    return definition


@st.composite
def activities(draw: st.DrawFn) -> dict[str, Json]:
    activity: dict[str, Json] = {"id": draw(iris)}
    if draw(st.booleans()):
        activity["objectType"] = "Activity"
    if draw(st.booleans()):
        activity["definition"] = draw(definitions())
    return activity


statement_refs = st.fixed_dictionaries({"objectType": st.just("StatementRef"), "id": uuids})


@st.composite
def scores(draw: st.DrawFn) -> dict[str, Json]:
    score: dict[str, Json] = {}
    if draw(st.booleans()):
        score["scaled"] = draw(st.floats(-1, 1) | st.integers(-1, 1))
    low = draw(st.none() | st.integers(-1000, 1000) | st.floats(-1000, 1000))
    high = None
    if draw(st.booleans()):
        high = draw(st.floats(1, 1000) | st.integers(1, 1000)) + (0 if low is None else low)
    if low is not None:
        score["min"] = low
    if high is not None:
        score["max"] = high
    if draw(st.booleans()):
        bottom = low if low is not None else -(10**6)
        top = high if high is not None else 10**6
        score["raw"] = draw(st.floats(bottom, top) | st.just(bottom) | st.just(top))
    return score


durations = st.one_of(
    st.builds(lambda w: f"P{w}W", st.integers(0, 60)),
    st.builds(
        lambda y, d, h, m, s: (
            "P" + (f"{y}Y" if y else "") + (f"{d}D" if d else "") + f"T{h}H{m}M{s}S"
        ),
        st.integers(0, 3),
        st.integers(0, 30),
        st.integers(0, 23),
        st.integers(0, 59),
        st.decimals(0, 59, places=2).map(str),
    ),
)
results = st.fixed_dictionaries(
    {},
    optional={
        "score": scores(),
        "success": st.booleans(),
        "completion": st.booleans(),
        "response": texts,
        "duration": durations,
        "extensions": extensions,
    },
)


def _extended(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def _basic(moment: datetime) -> str:
    return _extended(moment).replace("-", "").replace(":", "")


def timestamps(rules: XapiVersion) -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    zones = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+14:00"])
    rfc3339 = st.builds(
        lambda moment, zone, digits: (
            _extended(moment)
            + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "")
            + zone
        ),
        moments,
        zones,
        st.integers(0, 6),
    )
    if rules is V2:
        return rfc3339
    return rfc3339 | st.builds(
        lambda moment, zone: _basic(moment) + zone,
        moments,
        st.sampled_from(["", "Z", "+0200", "-05"]),
    )


@st.composite
def contexts(draw: st.DrawFn, rules: XapiVersion, activity_object: bool) -> dict[str, Json]:
    optional: dict[str, st.SearchStrategy[Json]] = {
        "registration": uuids,
        "instructor": actors,
        "team": groups(),
        "contextActivities": st.dictionaries(
            st.sampled_from(["parent", "grouping", "category", "other"]),
            activities() | st.lists(activities(), max_size=2),
            max_size=4,
        ),
        "language": language_tags,
        "statement": statement_refs,
        "extensions": extensions,
    }
    if activity_object:
        optional["revision"] = texts
        optional["platform"] = texts
    if rules is V2:
        relevant = st.lists(iris, min_size=1, max_size=2)
        optional["contextAgents"] = st.lists(
            st.fixed_dictionaries(
                {"objectType": st.just("contextAgent"), "agent": agents()},
                optional={"relevantTypes": relevant},
            ),
            max_size=2,
        )
        optional["contextGroups"] = st.lists(
            st.fixed_dictionaries(
                {"objectType": st.just("contextGroup"), "group": groups()},
                optional={"relevantTypes": relevant},
            ),
            max_size=2,
        )
    return draw(st.fixed_dictionaries({}, optional=optional))


attachments = st.lists(
    st.fixed_dictionaries(
        {
            "usageType": iris,
            "display": language_maps,
            "contentType": st.sampled_from(["application/pdf", "text/plain; charset=utf-8"]),
            "length": st.integers(0, 10**9),
            "sha2": st.binary(min_size=32, max_size=32).map(bytes.hex),
        },
        optional={"description": language_maps, "fileUrl": iris},
    ),
    max_size=2,
)


@st.composite
def statements(draw: st.DrawFn, rules: XapiVersion, sub: bool = False) -> dict[str, Json]:
    statement: dict[str, Json] = {"actor": draw(actors), "verb": draw(verbs)}
    choices = [activities(), agents(object_type=True), groups(), statement_refs]
    if not sub:
        choices.append(statements(rules, sub=True))
    obj = draw(st.one_of(choices))
    if sub:
        statement["objectType"] = "SubStatement"
    statement["object"] = obj
    activity_object = obj.get("objectType", "Activity") == "Activity"
    if draw(st.booleans()):
        statement["result"] = draw(results)
    if draw(st.booleans()):
        statement["context"] = draw(contexts(rules, activity_object))
    if draw(st.booleans()):
        statement["timestamp"] = draw(timestamps(rules))
    if draw(st.booleans()):
        statement["attachments"] = draw(attachments)
    if not sub:
        if draw(st.booleans()):
            statement["id"] = draw(uuids)
        if draw(st.booleans()):
            statement["stored"] = draw(timestamps(rules))
        if draw(st.booleans()):
            statement["authority"] = draw(
                agents()
                | st.fixed_dictionaries(
                    {
                        "objectType": st.just("Group"),
                        "member": st.lists(agents(), min_size=2, max_size=2),
                    }
                )
            )
        if draw(st.booleans()):
            statement["version"] = draw(
                st.sampled_from(["1.0.0", "1.0.3"] if rules is V1 else ["2.0.0"])
            )
    return statement


rule_sets = st.sampled_from([V1, V2])


@st.composite
def versioned_statements(draw: st.DrawFn) -> tuple[XapiVersion, dict[str, Json]]:
    rules = draw(rule_sets)
    return rules, draw(statements(rules))


# -- properties ---------------------------------------------------------------------


def assert_well_formed(problems: object) -> None:
    assert isinstance(problems, list)
    for problem in problems:
        assert isinstance(problem, StatementProblem)
        assert problem.path.startswith("$")
        assert problem.code
        assert problem.message


@PROPERTY_SETTINGS
@given(versioned_statements())
def test_generated_statements_are_valid_and_survive_a_round_trip(
    case: tuple[XapiVersion, dict[str, Json]],
) -> None:
    rules, statement = case
    assert validate_statement(statement, rules) == []
    raw = orjson.dumps(statement)
    again = orjson.loads(raw)
    assert again == statement
    assert validate_statement(again, rules) == []
    parsed, resolved, problems = parse_statement(raw, HEADER[rules])
    assert (parsed, resolved, problems) == (statement, rules, [])


@st.composite
def mutated(draw: st.DrawFn) -> tuple[XapiVersion, dict[str, Json]]:
    rules, statement = draw(versioned_statements())
    statement = copy.deepcopy(statement)
    for _ in range(draw(st.integers(1, 3))):
        containers: list[dict[str, Json] | list[Json]] = []
        stack: list[Json] = [statement]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                containers.append(node)
                stack.extend(node.values())
            elif isinstance(node, list):
                containers.append(node)
                stack.extend(node)
        target = draw(st.sampled_from(containers))
        keys: list[Any] = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["drop", "replace", "null", "retype", "junk", "rename"]))
        if action == "junk" or not keys:
            if isinstance(target, dict):
                target[draw(texts)] = draw(json_values)
            else:
                target.append(draw(json_values))
            continue
        key = draw(st.sampled_from(keys))
        if action == "drop":
            del target[key]
        elif action == "replace":
            target[key] = draw(json_values)
        elif action == "null":
            target[key] = None
        elif action == "retype":
            value = target[key]
            # An object's values as an array too: a reader that fills a struct by position
            # from an array (serde does) must still see the wrong type.
            as_array = list(value.values()) if isinstance(value, dict) else []
            target[key] = draw(
                st.sampled_from([[value], str(value), {"value": value}, 1, True, 0.5, as_array])
            )
        elif isinstance(target, dict):
            target[draw(st.sampled_from([str(key).upper(), str(key) + "_", " " + str(key)]))] = (
                target.pop(key)
            )
    return rules, statement


@PROPERTY_SETTINGS
@given(mutated())
def test_mutated_statements_are_accepted_or_rejected_never_raise(
    case: tuple[XapiVersion, dict[str, Json]],
) -> None:
    rules, statement = case
    before = copy.deepcopy(statement)
    problems = validate_statement(statement, rules)
    assert_well_formed(problems)
    assert statement == before
    assert validate_statement(statement, rules) == problems
    try:
        raw = orjson.dumps(statement)
    except orjson.JSONEncodeError:
        return
    _, _, parsed_problems = parse_statement(raw, HEADER[rules])
    assert_well_formed(parsed_problems)


@PROPERTY_SETTINGS
@given(json_values, rule_sets)
def test_any_json_value_goes_through(value: Json, rules: XapiVersion) -> None:
    assert_well_formed(validate_statement(value, rules))


@PROPERTY_SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "actor",
                "verb",
                "object",
                "result",
                "context",
                "id",
                "timestamp",
                "attachments",
                "authority",
                "version",
            ]
        ),
        json_values,
    ),
    rule_sets,
)
def test_statement_shaped_junk_goes_through(value: dict[str, Json], rules: XapiVersion) -> None:
    problems = validate_statement(value, rules)
    assert_well_formed(problems)
    assert problems


@PROPERTY_SETTINGS
@given(st.binary(max_size=300) | json_values.map(orjson.dumps), st.none() | st.text(max_size=8))
def test_any_bytes_go_through(raw: bytes, header: str | None) -> None:
    statement, rules, problems = parse_statement(raw, header)
    assert_well_formed(problems)
    assert statement is None or isinstance(statement, dict)
    assert (rules is None) or problems == [] or all(p.code != "json" for p in problems)


def test_deep_nesting_goes_through() -> None:
    deep: Json = "leaf"
    for _ in range(5000):
        deep = {"k": [deep]}
    statement = {
        "actor": deep,
        "verb": {"id": "https://x.example/v"},
        "object": {"id": "https://x.example/o"},
        "result": {"extensions": {"https://x.example/e": deep}},
    }
    problems = validate_statement(statement, V2)
    assert_well_formed(problems)
    assert ('$.result.extensions["https://x.example/e"]', "too_deep") in {
        (p.path, p.code) for p in problems
    }
    raw = b'{"a":' * 2000 + b"1" + b"}" * 2000
    _, _, problems = parse_statement(raw)
    assert [p.code for p in problems] == ["too_deep"]


def test_huge_strings_go_through() -> None:
    huge = "x" * 5_000_000
    statement = {
        "actor": {"mbox": "mailto:" + huge, "name": huge},
        "verb": {"id": "https://x.example/" + huge, "display": {huge: huge}},
        "object": {"id": huge},
        "timestamp": "2024-01-01T00:00:00" + huge,
        "result": {"duration": "PT" + "1" * 1_000_000 + "S"},
    }
    problems = validate_statement(statement, V2)
    assert_well_formed(problems)
    assert all(len(p.message) < 400 for p in problems)


@st.composite
def timestamp_like(draw: st.DrawFn) -> str:
    """Timestamps in the forms LMSs send, some of them bent out of shape in one place."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    text = _extended(moment) if draw(st.integers(0, 3)) else _basic(moment)
    if draw(st.integers(0, 4)) == 0:
        text = text[:-3] if "-" in text else text[:-2]
    elif draw(st.booleans()):
        text += (
            draw(st.sampled_from([".", ","]))
            + str(moment.microsecond).rjust(6, "0")[: draw(st.integers(1, 6))]
        )
    text += draw(
        st.sampled_from(
            [
                "Z",
                "+00:00",
                "-05:30",
                "+14:00",
                "",
                "+0000",
                "+00",
                "-0530",
                "-00:00",
                "-0000",
                "-00",
                "z",
                "+24:00",
                "-12:60",
            ]
        )
    )
    if draw(st.integers(0, 2)) == 0:
        position = draw(st.integers(0, len(text) - 1))
        text = (
            text[:position]
            + draw(st.sampled_from(["9", "0", " ", "t", "3"]))
            + text[position + 1 :]
        )
    return text


@settings(max_examples=1000, deadline=None)
@given(timestamp_like(), rule_sets)
def test_accepted_timestamps_parse_with_fromisoformat(value: str, rules: XapiVersion) -> None:
    if is_timestamp(value, rfc3339=rules is V2):
        parsed = datetime.fromisoformat(value)
        if rules is V2:
            assert parsed.tzinfo is not None
