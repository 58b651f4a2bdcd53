"""The fast path of validation: accept the common shapes of a valid statement, quickly.

Contract: :func:`accepts` takes any value and a rule set and answers True only when
the statement is valid under those rules; False means "not sure", never "invalid".
:func:`~schemas.xapi.validator.validate_statement` asks it first and hands everything
it does not accept to the every-error validator, which finds and explains every
problem. So the fast path may decline anything, at any time, and the answers stay
those of the every-error validator; it must never accept what that validator would
reject. ``tests/unit/schemas/test_xapi_fast_path.py`` holds it to that on all the
conformance cases, on hypothesis-generated statements and mutations, and on the
simulator's traffic.

What it accepts is what LMSs send all day: an Agent with one identifier, or a Group of
them as the actor (identified, or anonymous with members); a verb; an Activity (its
definition without interaction components) or an Agent as the object; a result; a
context with registration, context activities, revision, platform, language and
extensions; ``stored`` and an Agent as ``authority`` (statements an LRS forwards).
Anything else (a Group as object or authority, StatementRefs, SubStatements,
attachments, instructors, teams, interaction activities, extension values nested twice,
voiding) goes to the every-error validator as it always did.

Why it is faster: one pass with no path strings, no problem list and few calls; unknown
properties are found by comparing key views with frozensets; the IRIs and language tags
that repeat are looked up in the caches :mod:`schemas.xapi.formats` keeps (shared
with the every-error validator); and ``make compile`` builds it with mypyc. Measured on
the simulator's traffic (valgrind, instructions per statement): every-error validator
67,100; with the fast path 61,200 in Python and 43,700 compiled.
"""

from __future__ import annotations

from math import isfinite
from typing import Any, Final

from schemas.xapi import formats
from schemas.xapi.problems import (
    ACCOUNT_KEYS,
    ACTIVITY_KEYS,
    AGENT_KEYS,
    CONTEXT_ACTIVITY_KEYS,
    RESULT_KEYS,
    SCORE_KEYS,
    STATEMENT_KEYS,
    VERB_KEYS,
    VERSIONS_1_0,
    VERSIONS_2_0,
    VOIDED_VERB,
)

_known_iris: Final = formats.KNOWN_IRIS
_known_tags: Final = formats.KNOWN_LANGUAGE_TAGS
_is_iri: Final = formats.is_iri
_is_language_tag: Final = formats.is_language_tag
_is_timestamp: Final = formats.is_timestamp
_is_duration: Final = formats.is_duration
_match_mailto: Final = formats.MAILTO_RE.fullmatch
_match_uuid: Final = formats.UUID_RE.fullmatch
_match_sha1: Final = formats.SHA1_RE.fullmatch

_STATEMENT: Final = STATEMENT_KEYS - {"attachments"}
_VERSIONS: Final = (VERSIONS_1_0, VERSIONS_2_0)
_IFIS: Final = frozenset({"mbox", "mbox_sha1sum", "openid", "account"})
_AGENT: Final = AGENT_KEYS
_GROUP: Final = AGENT_KEYS | {"member"}
_ACCOUNT: Final = ACCOUNT_KEYS
_VERB: Final = VERB_KEYS
_ACTIVITY: Final = ACTIVITY_KEYS
_DEFINITION: Final = frozenset({"name", "description", "type", "moreInfo", "extensions"})
_RESULT: Final = RESULT_KEYS
_SCORE: Final = SCORE_KEYS
_CONTEXT: Final = frozenset(
    {"registration", "contextActivities", "revision", "platform", "language", "extensions"}
)
_CONTEXT_ACTIVITIES: Final = CONTEXT_ACTIVITY_KEYS


def accepts(statement: object, v2: bool) -> bool:
    """True if ``statement`` is certainly valid under the xAPI 2.0 (``v2``) or 1.0.3
    rules; False if the every-error validator must decide."""
    st: Any = statement
    if type(st) is not dict or not st.keys() <= _STATEMENT:
        return False
    if "id" in st:
        value = st["id"]
        if type(value) is not str or _match_uuid(value) is None:
            return False
    if "version" in st:
        value = st["version"]
        if type(value) is not str or value not in _VERSIONS[v2]:
            return False
    if "timestamp" in st:
        value = st["timestamp"]
        if type(value) is not str or not _is_timestamp(value, v2):
            return False
    if "stored" in st:
        value = st["stored"]
        if type(value) is not str or not _is_timestamp(value, v2):
            return False
    if "authority" in st and not _agent(st["authority"]):
        return False  # an Agent; the OAuth pair (a Group) goes the long way
    if not ("actor" in st and _actor(st["actor"])):
        return False
    verb = st.get("verb")
    if type(verb) is not dict or not verb.keys() <= _VERB:
        return False
    value = verb.get("id")
    if type(value) is not str or value == VOIDED_VERB:
        return False
    if value not in _known_iris and not _is_iri(value):
        return False
    if "display" in verb and not _language_map(verb["display"]):
        return False
    target = st.get("object")
    if type(target) is not dict:
        return False
    activity = target.get("objectType", "Activity") == "Activity"
    if not (_activity(target) if activity else _agent(target)):
        return False
    if "result" in st and not _result(st["result"]):
        return False
    return "context" not in st or _context(st["context"], activity)


def _iri(value: object) -> bool:
    return type(value) is str and (value in _known_iris or _is_iri(value))


def _language_map(value: object) -> bool:
    if type(value) is not dict:
        return False
    for tag, text in value.items():
        if type(text) is not str:
            return False
        if tag not in _known_tags and (type(tag) is not str or not _is_language_tag(tag)):
            return False
    return True


def _extensions(value: object) -> bool:
    """Extensions with IRI keys and values at most one level deep: a scalar, or an array
    or object of scalars (anything deeper goes to the every-error validator's depth
    check; one level is far within ``MAX_NESTING`` wherever extensions may stand)."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        if key not in _known_iris and (type(key) is not str or not _is_iri(key)):
            return False
        kind = type(item)
        if kind is list:
            for inner in item:
                if type(inner) is list or type(inner) is dict:
                    return False
        elif kind is dict:
            for inner in item.values():
                if type(inner) is list or type(inner) is dict:
                    return False
    return True


def _actor(actor: Any) -> bool:
    """An Agent, or a Group as the actor (never as authority or object, rarer shapes)."""
    if type(actor) is dict and actor.get("objectType") == "Group":
        return _group(actor)
    return _agent(actor)


def _agent(agent: Any) -> bool:
    if type(agent) is not dict or not agent.keys() <= _AGENT:
        return False
    if agent.get("objectType", "Agent") != "Agent":
        return False
    if "name" in agent and type(agent["name"]) is not str:
        return False
    return _identified(agent)


def _identified(agent: dict[str, Any]) -> bool:
    """Exactly one identifier (IFI), well-formed."""
    if len(agent.keys() & _IFIS) != 1:
        return False
    if "mbox" in agent:
        value = agent["mbox"]
        return type(value) is str and _match_mailto(value) is not None
    if "mbox_sha1sum" in agent:
        value = agent["mbox_sha1sum"]
        return type(value) is str and _match_sha1(value) is not None
    if "openid" in agent:
        return _iri(agent["openid"])
    account = agent["account"]
    if type(account) is not dict or account.keys() != _ACCOUNT:
        return False
    return type(account["name"]) is str and _iri(account["homePage"])


def _group(group: dict[str, Any]) -> bool:
    """A Group (``objectType`` is "Group"): an identified one (one IFI), or an anonymous
    one listing at least one member; every member an Agent."""
    if not group.keys() <= _GROUP:
        return False
    if "name" in group and type(group["name"]) is not str:
        return False
    identified = not group.keys().isdisjoint(_IFIS)
    if identified and not _identified(group):
        return False
    members = group.get("member")
    if members is None:
        return identified and "member" not in group
    if type(members) is not list or not (identified or members):
        return False
    return all(_agent(member) for member in members)


def _activity(activity: Any) -> bool:
    if type(activity) is not dict or not activity.keys() <= _ACTIVITY:
        return False
    if activity.get("objectType", "Activity") != "Activity" or not _iri(activity.get("id")):
        return False
    if "definition" not in activity:
        return True
    definition = activity["definition"]
    if type(definition) is not dict or not definition.keys() <= _DEFINITION:
        return False
    if "name" in definition and not _language_map(definition["name"]):
        return False
    if "description" in definition and not _language_map(definition["description"]):
        return False
    if "type" in definition and not _iri(definition["type"]):
        return False
    if "moreInfo" in definition and not _iri(definition["moreInfo"]):
        return False
    return "extensions" not in definition or _extensions(definition["extensions"])


def _number(value: object) -> bool:
    kind = type(value)
    return kind is int or (kind is float and isfinite(value))  # type: ignore[arg-type]


def _result(result: Any) -> bool:
    if type(result) is not dict or not result.keys() <= _RESULT:
        return False
    if "score" in result and not _score(result["score"]):
        return False
    if "success" in result and type(result["success"]) is not bool:
        return False
    if "completion" in result and type(result["completion"]) is not bool:
        return False
    if "response" in result and type(result["response"]) is not str:
        return False
    if "duration" in result:
        value = result["duration"]
        if type(value) is not str or not _is_duration(value):
            return False
    return "extensions" not in result or _extensions(result["extensions"])


def _score(score: Any) -> bool:
    if type(score) is not dict or not score.keys() <= _SCORE:
        return False
    for value in score.values():
        if not _number(value):
            return False
    if "scaled" in score and not -1 <= score["scaled"] <= 1:
        return False
    low = score.get("min")
    high = score.get("max")
    if low is not None and high is not None and not low < high:
        return False
    if "raw" in score:
        raw = score["raw"]
        if (low is not None and raw < low) or (high is not None and raw > high):
            return False
    return True


def _context(context: Any, activity: bool) -> bool:
    if type(context) is not dict or not context.keys() <= _CONTEXT:
        return False
    if not activity and ("revision" in context or "platform" in context):
        return False
    if "registration" in context:
        value = context["registration"]
        if type(value) is not str or _match_uuid(value) is None:
            return False
    if "revision" in context and type(context["revision"]) is not str:
        return False
    if "platform" in context and type(context["platform"]) is not str:
        return False
    if "language" in context:
        value = context["language"]
        if type(value) is not str:
            return False
        if value not in _known_tags and not _is_language_tag(value):
            return False
    if "contextActivities" in context:
        groups = context["contextActivities"]
        if type(groups) is not dict or not groups.keys() <= _CONTEXT_ACTIVITIES:
            return False
        for activities in groups.values():
            if type(activities) is list:
                for item in activities:
                    if not _activity(item):
                        return False
            elif not _activity(activities):
                return False
    return "extensions" not in context or _extensions(context["extensions"])
