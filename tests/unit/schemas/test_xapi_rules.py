"""The edges of the xAPI rules, one by one, with the path and code of each problem."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

import orjson
import pytest

from schemas.xapi import (
    StatementProblem,
    XapiVersion,
    parse_statement,
    resolve_version,
    validate_statement,
)
from schemas.xapi.formats import is_duration, is_language_tag, is_timestamp

V1 = XapiVersion.V1_0_3
V2 = XapiVersion.V2_0
BOTH = pytest.mark.parametrize("rules", [V1, V2], ids=["1.0.3", "2.0"])
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://lms.example.com/courses/kafka-101"
STATEMENT_ID = "5b1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7f"
SHA256 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"


def statement(**changes: Any) -> dict[str, Any]:
    """A valid statement under both rule sets; ``changes`` replace or add keys."""
    base: dict[str, Any] = {
        "id": STATEMENT_ID,
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
        "verb": {"id": ADL + "completed", "display": {"en-US": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": COURSE,
            "definition": {
                "name": {"en-US": "Kafka 101"},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "result": {
            "score": {"scaled": 0.8, "raw": 80, "min": 0, "max": 100},
            "success": True,
            "completion": True,
            "duration": "PT1H30M",
        },
        "timestamp": "2024-05-01T09:30:00.250Z",
    }
    base.update(changes)
    return base


def found(st: object, rules: XapiVersion = V2) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in validate_statement(st, rules)}


def with_score(**score: Any) -> dict[str, Any]:
    return statement(result={"score": score})


def with_actor(actor: Any) -> dict[str, Any]:
    return statement(actor=actor)


def with_context(**context: Any) -> dict[str, Any]:
    return statement(context=context)


@BOTH
def test_the_base_statement_is_valid(rules: XapiVersion) -> None:
    assert validate_statement(statement(), rules) == []


def test_minimal_statement_is_valid() -> None:
    minimal = {
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": ADL + "x"},
        "object": {"id": COURSE},
    }
    assert validate_statement(minimal, V1) == validate_statement(minimal, V2) == []


# -- score ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "score",
    [
        {"scaled": 0},
        {"scaled": 0.0},
        {"scaled": -1},
        {"scaled": 1},
        {"scaled": 1.0},
        {"scaled": -1.0},
        {"raw": 0},
        {"raw": -5},
        {"raw": 0, "min": 0},
        {"raw": 0, "max": 0},
        {"raw": 5, "min": 5, "max": 10},
        {"raw": 10, "min": 5, "max": 10},
        {"raw": 0, "min": -1, "max": 1},
        {"min": 0, "max": 0.5},
        {"min": -10, "max": -9},
        {"raw": 10**30, "max": 10**31},
        {},
    ],
)
def test_score_edges_accepted(score: dict[str, Any]) -> None:
    assert found(with_score(**score)) == set()


@pytest.mark.parametrize(
    ("score", "path"),
    [
        ({"scaled": 1.01}, "$.result.score.scaled"),
        ({"scaled": -1.00001}, "$.result.score.scaled"),
        ({"scaled": 2}, "$.result.score.scaled"),
        ({"raw": 0, "min": 5}, "$.result.score.raw"),
        ({"raw": 0, "min": 5, "max": 10}, "$.result.score.raw"),
        ({"raw": 11, "max": 10}, "$.result.score.raw"),
        ({"raw": 0.5, "max": 0}, "$.result.score.raw"),
        ({"min": 5, "max": 5}, "$.result.score.min"),
        ({"min": 0, "max": 0}, "$.result.score.min"),
        ({"min": 6, "max": 5}, "$.result.score.min"),
    ],
)
def test_score_edges_rejected(score: dict[str, Any], path: str) -> None:
    assert found(with_score(**score)) == {(path, "score")}


def test_raw_outside_both_bounds_and_equal_bounds_give_every_problem() -> None:
    assert found(with_score(raw=0, min=5, max=5)) == {
        ("$.result.score.min", "score"),
        ("$.result.score.raw", "score"),
    }


@pytest.mark.parametrize("key", ["scaled", "raw", "min", "max"])
@pytest.mark.parametrize("value", [True, False, "1", "0.5", [1], {"v": 1}])
def test_score_numbers_are_numbers_not_booleans_or_strings(key: str, value: Any) -> None:
    assert found(with_score(**{key: value})) == {(f"$.result.score.{key}", "type")}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_score_numbers_are_finite(value: float) -> None:
    assert found(with_score(raw=value)) == {("$.result.score.raw", "type")}


def test_score_null_is_a_null_problem() -> None:
    assert found(with_score(scaled=None)) == {("$.result.score.scaled", "null")}


# -- booleans, strings and nulls -------------------------------------------------


@pytest.mark.parametrize("value", ["true", "false", 1, 0, None, [True]])
@pytest.mark.parametrize("key", ["success", "completion"])
def test_result_flags_are_booleans(key: str, value: Any) -> None:
    code = "null" if value is None else "type"
    assert found(statement(result={key: value})) == {(f"$.result.{key}", code)}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"actor": {"name": None, "mbox": "mailto:a@example.com"}}, "$.actor.name"),
        ({"verb": {"id": ADL + "x", "display": {"en-US": None}}}, '$.verb.display["en-US"]'),
        (
            {"object": {"id": COURSE, "definition": {"moreInfo": None}}},
            "$.object.definition.moreInfo",
        ),
        ({"context": {"registration": None}}, "$.context.registration"),
        ({"result": None}, "$.result"),
        ({"timestamp": None}, "$.timestamp"),
        ({"id": None}, "$.id"),
        ({"actor": None}, "$.actor"),
    ],
)
def test_nulls_are_rejected_where_they_appear(changes: dict[str, Any], path: str) -> None:
    assert found(statement(**changes)) == {(path, "null")}


@pytest.mark.parametrize("value", [None, "", {}, [], 0, False, {"nested": [None]}])
def test_extension_values_may_be_anything_even_null(value: Any) -> None:
    ext = {"https://skillstream.example.com/ext/x": value}
    st = statement(result={"extensions": ext}, context={"extensions": ext})
    st["object"]["definition"]["extensions"] = ext
    assert found(st) == set()


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"result": {"response": 42}}, "$.result.response"),
        ({"result": {"duration": 3600}}, "$.result.duration"),
        ({"actor": {"name": 7, "mbox": "mailto:a@example.com"}}, "$.actor.name"),
        ({"context": {"platform": True}}, "$.context.platform"),
        ({"verb": {"id": 5}}, "$.verb.id"),
        ({"verb": "completed"}, "$.verb"),
        ({"object": [COURSE]}, "$.object"),
    ],
)
def test_wrong_json_types_are_type_problems(changes: dict[str, Any], path: str) -> None:
    assert found(statement(**changes)) == {(path, "type")}


# -- inverse functional identifiers -----------------------------------------------


IFIS: dict[str, Any] = {
    "mbox": "mailto:ann@example.com",
    "mbox_sha1sum": hashlib.sha1(b"mailto:ann@example.com").hexdigest(),
    "openid": "https://openid.example.com/ann",
    "account": {"homePage": "https://lms.example.com", "name": "ann"},
}


@pytest.mark.parametrize("ifi", sorted(IFIS))
def test_an_agent_with_one_identifier_is_valid(ifi: str) -> None:
    assert found(with_actor({ifi: IFIS[ifi]})) == set()
    assert found(with_actor({"objectType": "Agent", ifi: IFIS[ifi]})) == set()


@pytest.mark.parametrize("count", [0, 2, 3, 4])
def test_an_agent_needs_exactly_one_identifier(count: int) -> None:
    agent = {"name": "Ann", **dict(sorted(IFIS.items())[:count])}
    assert found(with_actor(agent)) == {("$.actor", "ifi")}


def test_identified_group_has_one_identifier_and_optional_members() -> None:
    assert found(with_actor({"objectType": "Group", "mbox": "mailto:team@example.com"})) == set()
    group = {
        "objectType": "Group",
        "mbox": "mailto:team@example.com",
        "openid": "https://o.example.com/t",
    }
    assert found(with_actor(group)) == {("$.actor", "ifi")}


def test_anonymous_group_needs_members() -> None:
    assert found(with_actor({"objectType": "Group", "name": "Team"})) == {("$.actor", "group")}
    assert found(with_actor({"objectType": "Group", "member": []})) == {("$.actor.member", "group")}
    members = [{"mbox": "mailto:a@example.com"}, {"account": IFIS["account"]}]
    assert found(with_actor({"objectType": "Group", "member": members})) == set()


def test_members_that_are_not_an_array_are_one_problem() -> None:
    group = {"objectType": "Group", "member": {"mbox": "mailto:a@example.com"}}
    assert found(with_actor(group)) == {("$.actor.member", "type")}


def test_group_members_are_agents_each_with_one_identifier() -> None:
    members = [
        {"mbox": "mailto:a@example.com"},
        {"objectType": "Group", "mbox": "mailto:t@example.com"},
        {"name": "nobody"},
        "mailto:c@example.com",
    ]
    assert found(with_actor({"objectType": "Group", "member": members})) == {
        ("$.actor.member[1].objectType", "group"),
        ("$.actor.member[2]", "ifi"),
        ("$.actor.member[3]", "type"),
    }


@pytest.mark.parametrize(
    ("mbox", "ok"),
    [
        ("mailto:ann@example.com", True),
        ("mailto:first.last+tag@mail.example.co.uk", True),
        ("mailto:anne@bücher.example", True),
        ("ann@example.com", False),
        ("mailto:ann.example.com", False),
        ("mailto:ann@@example.com", False),
        ("mailto:ann@example.com?subject=hi", False),
        ("mailto: ann@example.com", False),
        ("mailto:ann@example..com", False),
        ("MAILTO:ann@example.com", False),
        ("http://example.com", False),
        ("mailto:", False),
    ],
)
def test_mbox_is_a_mailto_iri(mbox: str, ok: bool) -> None:
    assert found(with_actor({"mbox": mbox})) == (set() if ok else {("$.actor.mbox", "mbox")})


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("CD9B00A5611F94EAA7B1661EDAB976068E364975", None),
        ("cd9b00a5611f94eaa7b1661edab976068e36497", "mbox_sha1sum"),
        ("cd9b00a5611f94eaa7b1661edab976068e364975a", "mbox_sha1sum"),
        ("zd9b00a5611f94eaa7b1661edab976068e364975", "mbox_sha1sum"),
        (12345, "type"),
    ],
)
def test_mbox_sha1sum_is_40_hex_digits(value: Any, code: str | None) -> None:
    expected = set() if code is None else {("$.actor.mbox_sha1sum", code)}
    assert found(with_actor({"mbox_sha1sum": value})) == expected


def test_account_needs_home_page_iri_and_name_and_nothing_else() -> None:
    assert found(with_actor({"account": {"name": "ann"}})) == {
        ("$.actor.account.homePage", "account")
    }
    assert found(with_actor({"account": {"homePage": "https://x.example"}})) == {
        ("$.actor.account.name", "account")
    }
    account = {"homePage": "lms.example.com", "name": 5, "id": 1}
    assert found(with_actor({"account": account})) == {
        ("$.actor.account.homePage", "iri"),
        ("$.actor.account.name", "type"),
        ("$.actor.account.id", "unknown_property"),
    }


def test_openid_is_an_iri() -> None:
    assert found(with_actor({"openid": "not an iri"})) == {("$.actor.openid", "iri")}


def test_authority_is_an_agent_or_an_anonymous_pair() -> None:
    pair = [
        {"account": {"homePage": "https://lms.example.com/oauth", "name": "app"}},
        {"mbox": "mailto:ann@example.com"},
    ]
    assert found(statement(authority={"objectType": "Group", "member": pair})) == set()
    assert found(statement(authority={"mbox": "mailto:lms@example.com"})) == set()
    three = {"objectType": "Group", "member": [*pair, {"mbox": "mailto:c@example.com"}]}
    assert found(statement(authority=three)) == {("$.authority", "authority")}
    named = {"objectType": "Group", "mbox": "mailto:t@example.com", "member": pair}
    assert found(statement(authority=named)) == {("$.authority", "authority")}


# -- IRIs, UUIDs, language maps -----------------------------------------------------


@pytest.mark.parametrize(
    ("iri", "ok"),
    [
        ("http://adlnet.gov/expapi/verbs/completed", True),
        ("urn:uuid:5b1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7f", True),
        ("https://example.com/فعل/خواندن", True),
        ("https://example.com/a%20b", True),
        ("tag:example.com,2024:verbs/x", True),
        ("completed", False),
        ("/relative/path", False),
        ("ab=c://should.fail.com", False),
        ("https://example.com/a b", False),
        ("https://example.com/a%2", False),
        ("https://example.com/<x>", False),
        ("https:", False),
        ("", False),
    ],
)
def test_verb_id_is_an_absolute_iri(iri: str, ok: bool) -> None:
    st = statement(verb={"id": iri})
    assert found(st) == (set() if ok else {("$.verb.id", "iri")})


@pytest.mark.parametrize(
    "key",
    ["type", "moreInfo"],
)
def test_activity_type_and_more_info_are_iris(key: str) -> None:
    st = statement(object={"id": COURSE, "definition": {key: "course"}})
    assert found(st) == {(f"$.object.definition.{key}", "iri")}


def test_extension_keys_are_iris() -> None:
    st = statement(result={"extensions": {"score-detail": 1, "https://x.example/ok": 2}})
    assert found(st) == {('$.result.extensions["score-detail"]', "extension")}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("5B1E6C3A-8F2D-4C7E-9A10-2F3B4C5D6E7F", None),
        ("5b1e6c3a8f2d4c7e9a102f3b4c5d6e7f", "uuid"),
        ("5b1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7", "uuid"),
        ("5b1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7fa", "uuid"),
        ("gb1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7f", "uuid"),
        ("{5b1e6c3a-8f2d-4c7e-9a10-2f3b4c5d6e7f}", "uuid"),
        (12345, "type"),
    ],
)
def test_uuids_in_standard_form(value: Any, code: str | None) -> None:
    st = statement(id=value, context={"registration": value})
    st["object"] = {"objectType": "StatementRef", "id": value}
    paths = ("$.id", "$.context.registration", "$.object.id")
    assert found(st) == (set() if code is None else {(path, code) for path in paths})


VALID_TAGS = [
    "en",
    "en-US",
    "de-DE",
    "es-419",
    "zh-Hant",
    "zh-Hans-CN",
    "sr-Latn-RS",
    "tlh",
    "cmn",
    "ase",
    "de-CH-1996",
    "sl-rozaj-biske",
    "en-a-bbb-x-a-ccc",
    "x-private",
    "i-klingon",
    "en-GB-oed",
    "EN-us",
    "zh-yue-HK",
    "qaa-Qaaa-QM-x-southern",
]
INVALID_TAGS = [
    "",
    "something",
    "en-something-AU",
    "s-something",
    "zh-something-ccc",
    "a12345678",
    "zh-z-aaa-z-bbb-c-ccc",
    "de-1996-1996",
    "en_US",
    "en-",
    "-en",
    "en--US",
    "en-US-",
    "en-K",
    "\u212aa",
    "١٢٣",
    "en-US ",
    "x-",
    "en-x",
]


@pytest.mark.parametrize("tag", VALID_TAGS)
def test_well_formed_language_tags(tag: str) -> None:
    assert is_language_tag(tag)
    assert (
        found(statement(verb={"id": ADL + "x", "display": {tag: "x"}}, context={"language": tag}))
        == set()
    )


@pytest.mark.parametrize("tag", INVALID_TAGS)
def test_malformed_language_tags(tag: str) -> None:
    assert not is_language_tag(tag)
    st = statement(verb={"id": ADL + "x", "display": {tag: "x"}}, context={"language": tag})
    codes = {code for _, code in found(st)}
    assert codes == {"language_map", "language"}


def test_empty_language_map_is_accepted_and_string_map_rejected() -> None:
    assert found(statement(verb={"id": ADL + "x", "display": {}})) == set()
    assert found(statement(verb={"id": ADL + "x", "display": "done"})) == {
        ("$.verb.display", "type")
    }


# -- timestamps and durations ---------------------------------------------------------


BOTH_TIMESTAMPS = [
    "2024-05-01T09:30:00Z",
    "2024-05-01T09:30:00.250Z",
    "2024-05-01T09:30:00.123456789+02:00",
    "2008-09-15T15:53:00.601+00:00",
    "2024-02-29T23:59:59-05:30",
    "2000-02-29T00:00:00Z",
    "1776-07-04T16:00:45.123Z",
]
ONLY_1_0_3_TIMESTAMPS = [
    "2024-05-01T09:30:00",
    "2024-05-01T09:30",
    "2024-05-01T09:30:00,5Z",
    "2024-05-01T09:30:00+0200",
    "2024-05-01T09:30:00+02",
    "20240501T093000Z",
    "20240501T0930",
    "20240501T093000.5-0530",
    "2008-09-15T15:53:00.601-01",
]
NEITHER_TIMESTAMPS = [
    "2008-09-15T15:53:00.601-00:00",
    "2008-09-15T15:53:00.601-0000",
    "2008-09-15T15:53:00.601-00",
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2024-04-31T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T09:60:00Z",
    "2024-05-01T09:30:60Z",
    "0000-01-01T00:00:00Z",
    "2024-05-01",
    "2024-05-01 09:30:00Z",
    "2024-05-01t09:30:00z",
    "01/011/2015",
    "should fail",
    "２０２４-05-01T09:30:00Z",
    "2024-05-01T09:30:00Z\n",
]


@pytest.mark.parametrize("value", BOTH_TIMESTAMPS)
@BOTH
def test_timestamps_accepted_by_both_rule_sets(value: str, rules: XapiVersion) -> None:
    assert found(statement(timestamp=value, stored=value), rules) == set()
    assert datetime.fromisoformat(value.replace("123456789", "123456")).tzinfo is not None


@pytest.mark.parametrize("value", ONLY_1_0_3_TIMESTAMPS)
def test_iso_8601_forms_accepted_by_1_0_3_only(value: str) -> None:
    assert found(statement(timestamp=value), V1) == set()
    assert found(statement(timestamp=value), V2) == {("$.timestamp", "timestamp")}
    datetime.fromisoformat(value)


@pytest.mark.parametrize("value", NEITHER_TIMESTAMPS)
@BOTH
def test_timestamps_rejected_by_both_rule_sets(value: str, rules: XapiVersion) -> None:
    assert found(statement(timestamp=value), rules) == {("$.timestamp", "timestamp")}
    assert not is_timestamp(value, rfc3339=rules is V2)


def test_substatement_timestamps_follow_the_same_rules() -> None:
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ann@example.com"},
        "verb": {"id": ADL + "planned"},
        "object": {"id": COURSE},
        "timestamp": "2099-01-01T00:00:00",
    }
    assert found(statement(object=sub), V1) == set()
    assert found(statement(object=sub), V2) == {("$.object.timestamp", "timestamp")}


@pytest.mark.parametrize(
    "value",
    [
        "P3Y",
        "P3Y1M29DT4H35M59.14S",
        "P4W",
        "PT16559.14S",
        "PT1H0M0S",
        "PT0S",
        "P1D",
        "PT1.5H",
        "P0.5Y",
        "P1DT2H",
        "P4.5W",
        "PT1,5S",
        "P0D",
    ],
)
def test_valid_durations(value: str) -> None:
    assert is_duration(value)
    assert found(statement(result={"duration": value})) == set()


@pytest.mark.parametrize(
    "value",
    [
        "P",
        "PT",
        "P1YT",
        "P4W1D",
        "PA1H0M0S",
        "PT1.5H30M",
        "1H",
        "P1H",
        "PT1D",
        "P-1D",
        "pt1h",
        "P1Y2Y",
        "PT1H ",
        "P1.5Y2M",
        "P0003-01-29T04:35:59",
        "PT١S",
        "",
    ],
)
def test_invalid_durations(value: str) -> None:
    assert not is_duration(value)
    assert found(statement(result={"duration": value})) == {("$.result.duration", "duration")}


def test_validation_keeps_the_original_strings() -> None:
    st = statement(result={"duration": "PT16559.14S"}, timestamp="2024-05-01T11:30:00.1+02:00")
    before = copy.deepcopy(st)
    assert validate_statement(st, V2) == []
    assert st == before
    assert st["result"]["duration"] == "PT16559.14S"


# -- unknown properties and versions --------------------------------------------------


def test_unknown_properties_are_rejected_everywhere() -> None:
    st = statement(Actor={"mbox": "mailto:b@example.com"}, extra=1)
    st["verb"]["Display"] = {"en": "x"}
    st["result"]["score"]["percent"] = 80
    assert found(st) == {
        ("$.Actor", "unknown_property"),
        ("$.extra", "unknown_property"),
        ("$.verb.Display", "unknown_property"),
        ("$.result.score.percent", "unknown_property"),
    }


def test_case_mismatch_names_the_right_property() -> None:
    [problem] = validate_statement(statement(timeStamp="2024-05-01T09:30:00Z"), V2)
    assert problem.path == "$.timeStamp"
    assert '"timestamp"' in problem.message


CONTEXT_AGENTS = [
    {
        "objectType": "contextAgent",
        "agent": {"mbox": "mailto:coach@example.com"},
        "relevantTypes": ["https://skillstream.example.com/roles/coach"],
    }
]
CONTEXT_GROUPS = [
    {
        "objectType": "contextGroup",
        "group": {"objectType": "Group", "mbox": "mailto:cohort@example.com"},
    }
]


def test_context_agents_and_groups_exist_only_in_2_0() -> None:
    st = with_context(contextAgents=CONTEXT_AGENTS, contextGroups=CONTEXT_GROUPS)
    assert found(st, V2) == set()
    problems = validate_statement(st, V1)
    assert {(p.path, p.code) for p in problems} == {
        ("$.context.contextAgents", "unknown_property"),
        ("$.context.contextGroups", "unknown_property"),
    }
    assert all("2.0" in p.message for p in problems)


def test_context_agent_and_group_rules() -> None:
    st = with_context(
        contextAgents=[
            {
                "objectType": "contextagent",
                "agent": {"objectType": "Group", "mbox": "mailto:g@x.example"},
            },
            {"agent": {"mbox": "mailto:a@example.com"}, "relevantTypes": []},
        ],
        contextGroups=[
            {
                "objectType": "contextGroup",
                "group": {"mbox": "mailto:g@example.com"},
                "relevantTypes": ["x"],
            }
        ],
    )
    assert found(st, V2) == {
        ("$.context.contextAgents[0].objectType", "object_type"),
        ("$.context.contextAgents[0].agent.objectType", "object_type"),
        ("$.context.contextAgents[1].objectType", "required"),
        ("$.context.contextAgents[1].relevantTypes", "context"),
        ("$.context.contextGroups[0].group.objectType", "required"),
        ("$.context.contextGroups[0].relevantTypes[0]", "iri"),
    }


@pytest.mark.parametrize(
    ("version", "rules"),
    [("1.0.0", V1), ("1.0.3", V1), ("1.0", V1), ("1.0.9", V1), ("2.0.0", V2), ("2.0", V2)],
)
def test_version_accepted_per_rule_set(version: str, rules: XapiVersion) -> None:
    assert found(statement(version=version), rules) == set()
    other = V2 if rules is V1 else V1
    assert found(statement(version=version), other) == {("$.version", "version")}


@pytest.mark.parametrize(
    "version", ["1.1.0", "0.9.9", "2.1.0", "3.0.0", "1.0.", "v1.0.3", "", "1.0.3 "]
)
def test_unsupported_versions(version: str) -> None:
    assert found(statement(version=version), V1) == {("$.version", "version")}
    rules, problems = resolve_version(statement(version=version), "1.0.3")
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [("$.version", "version")]


def test_resolve_version_precedence() -> None:
    assert resolve_version(statement(version="1.0.0"), "2.0.0") == (V1, [])
    assert resolve_version(statement(), "1.0.3") == (V1, [])
    assert resolve_version(statement(), " 2.0.0 ") == (V2, [])
    assert resolve_version(statement(), None) == (V2, [])
    assert resolve_version(statement(), None, default="1.0.3") == (V1, [])
    rules, problems = resolve_version(statement(), "0.95")
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [("$", "version")]
    rules, problems = resolve_version(statement(version=None), "2.0.0")
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [("$.version", "version")]


# -- objects, substatements, voiding, context rules --------------------------------------


def test_object_types_are_case_sensitive() -> None:
    for wrong in ("activity", "agent", "statementref", "substatement", "Person"):
        st = statement(object={"objectType": wrong, "id": COURSE})
        assert found(st) == {("$.object.objectType", "object_type")}


def test_agents_and_groups_as_objects() -> None:
    assert found(statement(object={"objectType": "Agent", "mbox": "mailto:b@example.com"})) == set()
    assert found(statement(object={"mbox": "mailto:b@example.com"})) == {
        ("$.object.mbox", "unknown_property"),
        ("$.object.id", "required"),
    }


def test_substatement_restrictions() -> None:
    sub = {
        "objectType": "SubStatement",
        "id": STATEMENT_ID,
        "stored": "2024-05-01T09:30:00Z",
        "version": "2.0.0",
        "authority": {"mbox": "mailto:lms@example.com"},
        "actor": {"mbox": "mailto:ann@example.com"},
        "verb": {"id": ADL + "planned"},
        "object": {
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:ann@example.com"},
            "verb": {"id": ADL + "x"},
            "object": {"id": COURSE},
        },
    }
    assert found(statement(object=sub)) == {
        ("$.object.id", "substatement"),
        ("$.object.stored", "substatement"),
        ("$.object.version", "substatement"),
        ("$.object.authority", "substatement"),
        ("$.object.object.objectType", "substatement"),
    }


def test_substatement_needs_actor_verb_object() -> None:
    assert found(statement(object={"objectType": "SubStatement"})) == {
        ("$.object.actor", "required"),
        ("$.object.verb", "required"),
        ("$.object.object", "required"),
    }


def test_voiding_needs_a_statement_ref() -> None:
    voided = {"id": ADL + "voided", "display": {"en-US": "voided"}}
    ref = {"objectType": "StatementRef", "id": STATEMENT_ID}
    assert found(statement(verb=voided, object=ref, result={})) == set()
    assert found(statement(verb=voided)) == {("$.object", "voiding")}


@pytest.mark.parametrize("key", ["revision", "platform"])
def test_revision_and_platform_only_with_activities(key: str) -> None:
    assert found(statement(context={key: "v2"})) == set()
    agent_object = {"objectType": "Agent", "mbox": "mailto:b@example.com"}
    assert found(statement(object=agent_object, context={key: "v2"})) == {
        (f"$.context.{key}", "context")
    }


def test_context_activities_single_or_arrays_of_activities() -> None:
    activity = {"id": "https://lms.example.com/programmes/data"}
    ok = with_context(
        contextActivities={"parent": activity, "grouping": [activity, activity], "other": []}
    )
    assert found(ok) == set()
    bad = with_context(
        contextActivities={
            "parent": "x",
            "category": [{"objectType": "Agent", "mbox": "mailto:a@example.com"}],
            "tags": [],
        }
    )
    assert found(bad) == {
        ("$.context.contextActivities.parent", "type"),
        ("$.context.contextActivities.category[0].objectType", "object_type"),
        ("$.context.contextActivities.tags", "unknown_property"),
    }


def test_team_is_a_group_and_statement_a_statement_ref() -> None:
    st = with_context(
        team={"mbox": "mailto:team@example.com"},
        instructor={"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]},
        statement={"id": STATEMENT_ID},
    )
    assert found(st) == {
        ("$.context.team.objectType", "required"),
        ("$.context.statement.objectType", "required"),
    }


# -- interactions and attachments -------------------------------------------------------


def interaction(kind: Any, **lists: Any) -> dict[str, Any]:
    definition = {"interactionType": kind, "correctResponsesPattern": ["a"], **lists}
    return statement(object={"id": COURSE, "definition": definition})


def test_component_lists_belong_to_their_interaction_types() -> None:
    choices = [{"id": "a", "description": {"en": "A"}}, {"id": "b"}]
    assert found(interaction("choice", choices=choices)) == set()
    assert found(interaction("likert", choices=choices)) == {
        ("$.object.definition.choices", "interaction")
    }
    assert found(interaction("choice", choices=[{"id": "a"}, {"id": "a"}])) == {
        ("$.object.definition.choices[1].id", "interaction")
    }
    st = statement(object={"id": COURSE, "definition": {"correctResponsesPattern": ["true"]}})
    assert found(st) == {("$.object.definition.correctResponsesPattern", "interaction")}
    assert found(interaction("True-False")) == {
        ("$.object.definition.interactionType", "interaction")
    }


def attachment(**changes: Any) -> dict[str, Any]:
    base = {
        "usageType": "https://skillstream.example.com/attachments/certificate",
        "display": {"en-US": "Certificate"},
        "contentType": "application/pdf",
        "length": 27,
        "sha2": SHA256,
    }
    base.update(changes)
    return base


def test_attachment_rules() -> None:
    assert (
        found(statement(attachments=[attachment(), attachment(fileUrl="https://x.example/c.pdf")]))
        == set()
    )
    bad = attachment(length=-1, sha2="xyz", contentType="pdf", fileUrl="c.pdf")
    del bad["display"]
    assert found(statement(attachments=[bad, attachment(length=27.0)])) == {
        ("$.attachments[0].length", "attachment"),
        ("$.attachments[0].sha2", "attachment"),
        ("$.attachments[0].contentType", "attachment"),
        ("$.attachments[0].fileUrl", "iri"),
        ("$.attachments[0].display", "required"),
        ("$.attachments[1].length", "type"),
    }


def test_signature_attachments_are_octet_streams() -> None:
    signature = attachment(usageType="http://adlnet.gov/expapi/attachments/signature")
    assert found(statement(attachments=[signature])) == {
        ("$.attachments[0].contentType", "attachment")
    }
    signature["contentType"] = "application/octet-stream"
    assert found(statement(attachments=[signature])) == set()


def test_attachment_data_checked_only_when_the_request_carried_parts() -> None:
    st = statement(
        attachments=[attachment(), attachment(sha2="a" * 64, fileUrl="https://x.example/f")]
    )
    assert validate_statement(st, V2) == []
    assert validate_statement(st, V2, attachment_hashes=[SHA256.upper()]) == []
    problems = validate_statement(st, V2, attachment_hashes=[])
    assert [(p.path, p.code) for p in problems] == [("$.attachments[0]", "attachment")]
    # what is not a digest among the parts' hashes is skipped, never raised on (compiled too)
    odd: list[Any] = [1, None, SHA256]
    assert validate_statement(st, V2, attachment_hashes=odd) == []
    problems = validate_statement(st, V2, attachment_hashes=[1, None])
    assert [(p.path, p.code) for p in problems] == [("$.attachments[0]", "attachment")]


# -- every problem, with its path ---------------------------------------------------------


def test_several_errors_give_several_problems_with_paths() -> None:
    st = {
        "id": "not-a-uuid",
        "actor": {"objectType": "Group", "member": [{"mbox": "ann@example.com"}, {"name": "x"}]},
        "verb": {"id": "completed", "display": {"en_US": "completed"}},
        "object": {"id": COURSE, "definition": {"name": "Kafka", "type": "course"}},
        "result": {"score": {"raw": 0, "min": 5, "scaled": True}, "success": "yes"},
        "context": {"registration": 7, "contextActivities": {"parent": [{"id": "p"}]}},
        "timestamp": "yesterday",
        "stored": None,
        "attachments": {},
        "Version": "2.0.0",
    }
    problems = validate_statement(st, V2)
    assert all(isinstance(p, StatementProblem) for p in problems)
    assert {(p.path, p.code) for p in problems} == {
        ("$.id", "uuid"),
        ("$.actor.member[0].mbox", "mbox"),
        ("$.actor.member[1]", "ifi"),
        ("$.verb.id", "iri"),
        ("$.verb.display.en_US", "language_map"),
        ("$.object.definition.name", "type"),
        ("$.object.definition.type", "iri"),
        ("$.result.score.raw", "score"),
        ("$.result.score.scaled", "type"),
        ("$.result.success", "type"),
        ("$.context.registration", "type"),
        ("$.context.contextActivities.parent[0].id", "iri"),
        ("$.timestamp", "timestamp"),
        ("$.stored", "null"),
        ("$.attachments", "type"),
        ("$.Version", "unknown_property"),
    }
    assert len(problems) == 16
    assert all(len(p.message) > 20 and p.message == p.message.strip() for p in problems)


def test_missing_required_properties() -> None:
    assert found({}) == {("$.actor", "required"), ("$.verb", "required"), ("$.object", "required")}
    assert found(statement(verb={"display": {"en": "x"}}, object={"definition": {}})) == {
        ("$.verb.id", "required"),
        ("$.object.id", "required"),
    }


@pytest.mark.parametrize(
    "value",
    [None, True, 0, 1.5, "statement", [], [statement()], (1, 2), {1, 2}, object(), b"{}"],
)
def test_anything_but_an_object_is_one_type_problem(value: Any) -> None:
    problems = validate_statement(value, V2)
    assert len(problems) == 1
    assert problems[0].path == "$"
    assert problems[0].code in {"type", "null"}


def test_odd_python_values_never_raise() -> None:
    st: dict[Any, Any] = statement()
    st[1] = "int key"
    st["result"] = {"score": {"raw": 10**5000, "min": 10**5001, "scaled": -(10**400)}, ("a",): 1}
    st["verb"] = {"id": ["list"], "display": {None: "x", "en": ["y"]}}
    st["context"] = {"extensions": {5: 1}, "language": ["en"], "registration": {"a": 1}}
    st["object"] = {"objectType": ["Activity"], "id": COURSE}
    st["attachments"] = [{10**5000: 1, "length": -(10**5000)}]
    st["timestamp"] = 10**5000
    problems = validate_statement(st, V2)
    assert {p.code for p in problems} >= {"unknown_property", "type", "language_map", "extension"}


# -- parse_statement ------------------------------------------------------------------------


def test_parse_valid_statement_and_version_from_header() -> None:
    raw = orjson.dumps(statement())
    assert parse_statement(raw, "1.0.3") == (statement(), V1, [])
    assert parse_statement(raw) == (statement(), V2, [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"x" * 2_000_001, "too_large"),
        (b'{"actor": "\xff"}', "utf8"),
        (b"\xef\xbb\xbf{}", "json"),
        (b'{"actor": ', "json"),
        (b"", "json"),
        (b'{"a": 1} {"b": 2}', "json"),
        (b"NaN", "json"),
        (b'"\\ud800"', "json"),
        (b"[]", "type"),
        (b"[{}]", "type"),
        (b"null", "type"),
        (b"42", "type"),
        (b'"statement"', "type"),
    ],
)
def test_parse_rejects_what_is_not_a_statement(raw: bytes, code: str) -> None:
    result, rules, problems = parse_statement(raw, max_bytes=2_000_000)
    assert result is None
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [("$", code)]


def test_parse_limit_is_configurable() -> None:
    raw = orjson.dumps(statement())
    assert parse_statement(raw, max_bytes=len(raw))[2] == []
    assert [p.code for p in parse_statement(raw, max_bytes=len(raw) - 1)[2]] == ["too_large"]


def test_parse_with_unsupported_version_still_reports_every_problem() -> None:
    raw = orjson.dumps(statement(version="1.1.0", timestamp="2024-05-01T09:30:00"))
    result, rules, problems = parse_statement(raw, "2.0.0")
    assert result is not None
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [
        ("$.version", "version"),
        ("$.timestamp", "timestamp"),
    ]


def test_parse_with_unsupported_header_uses_the_default_rules() -> None:
    raw = orjson.dumps(statement(timestamp="2024-05-01T09:30:00"))
    _, rules, problems = parse_statement(raw, "0.95", default_version="1.0.3")
    assert rules is None
    assert [(p.path, p.code) for p in problems] == [("$", "version")]
    _, _, problems = parse_statement(raw, "0.95", default_version="2.0.0")
    assert [(p.path, p.code) for p in problems] == [("$", "version"), ("$.timestamp", "timestamp")]


def test_a_1_0_3_statement_may_not_use_2_0_properties() -> None:
    raw = orjson.dumps(with_context(contextAgents=CONTEXT_AGENTS))
    assert parse_statement(raw, "2.0.0")[2] == []
    assert [(p.path, p.code) for p in parse_statement(raw, "1.0.3")[2]] == [
        ("$.context.contextAgents", "unknown_property")
    ]
