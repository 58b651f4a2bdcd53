"""Strict validation of one xAPI statement, as an LRS does it on ``POST /statements``.

Contract: :func:`validate_statement` takes any Python value (normally the dict
orjson produced) and the rule set to apply, and returns *every* problem it
finds, each with a JSON path, a plain-English message and a stable code; an
empty list means the statement is valid. It never raises and never mutates its
input. The rules are those of xAPI 1.0.3 and xAPI 2.0 (IEEE 9274.1.1) as
exercised by ADL's LRS conformance suite: wrong JSON types and nulls are
rejected (extension values excepted), unknown properties are rejected (so the
1.0.3 rules reject ``contextAgents`` and ``contextGroups``), property names are
case-sensitive.

Why hand-written: this is on the hot path of ingest (for whatever the fast path of
:mod:`schemas.xapi.fast` does not accept), so it is one pass over the
parsed dict with plain type checks, ``frozenset.issuperset`` for unknown keys,
precompiled patterns, caches for the IRIs and language tags that repeat, and
early dispatch on ``objectType``. Messages are only built when something is
wrong; no exception is used for control flow.

Where the specification lets an LRS choose, skillstream is strict: interaction
component lists only with the interactionTypes that use them (and distinct
component ids), ``sha2`` as a hex SHA-2 digest, signature attachments as
``application/octet-stream``, an anonymous Group with at least one member.
Timestamp and duration formats per version are described in
:mod:`schemas.xapi.formats`.

Request-level rules are the caller's, because only the caller saw the request:
a front door that received attachment parts in a ``multipart/mixed`` request
passes their SHA-2 hashes as ``attachment_hashes`` so that attachments without
``fileUrl`` are checked against them; statements read from Kafka carry no parts
and their attachment metadata is validated on its own. JWS signatures are
verified at the front door, and the ``authority`` a statement carries is
validated as sent (a receiver that overwrites it must validate it first).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from typing import Any, Final

from schemas.xapi import formats
from schemas.xapi.fast import accepts as _accepts
from schemas.xapi.problems import (
    ACCOUNT_KEYS,
    ACTIVITY_KEYS,
    AGENT_KEYS,
    CONTEXT_ACTIVITY_KEYS,
    MAX_NESTING,
    RESULT_KEYS,
    SCORE_KEYS,
    STATEMENT_KEYS,
    VERB_KEYS,
    VERSIONS_1_0,
    VERSIONS_2_0,
    VOIDED_VERB,
    StatementProblem,
    XapiVersion,
)

SIGNATURE_USAGE: Final = "http://adlnet.gov/expapi/attachments/signature"

_MISSING: Final[Any] = object()
_V2_0: Final = XapiVersion.V2_0

_known_iris: Final = formats.KNOWN_IRIS
_known_tags: Final = formats.KNOWN_LANGUAGE_TAGS
_is_iri: Final = formats.is_iri
_is_language_tag: Final = formats.is_language_tag
_match_mailto: Final = formats.MAILTO_RE.fullmatch
_match_sha1: Final = formats.SHA1_RE.fullmatch
_match_uuid: Final = formats.UUID_RE.fullmatch
_is_timestamp: Final = formats.is_timestamp
_is_duration: Final = formats.is_duration
_isfinite: Final = math.isfinite

_STATEMENT_KEYS: Final = STATEMENT_KEYS
_SUBSTATEMENT_FORBIDDEN: Final = ("id", "stored", "version", "authority")
_SUBSTATEMENT_KEYS: Final = frozenset(
    {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
)
_SUBSTATEMENT_SEEN_KEYS: Final = _SUBSTATEMENT_KEYS | frozenset(_SUBSTATEMENT_FORBIDDEN)
_AGENT_KEYS: Final = AGENT_KEYS
_GROUP_KEYS: Final = _AGENT_KEYS | {"member"}
_OTHER_THAN_MBOX: Final = frozenset({"mbox_sha1sum", "openid", "account"})
_ACCOUNT_KEYS: Final = ACCOUNT_KEYS
_VERB_KEYS: Final = VERB_KEYS
_ACTIVITY_KEYS: Final = ACTIVITY_KEYS
_PLAIN_ACTIVITY_KEYS: Final = frozenset({"objectType", "id"})
_STATEMENT_REF_KEYS: Final = frozenset({"objectType", "id"})
_COMPONENT_LISTS: Final = ("choices", "scale", "source", "target", "steps")
_INTERACTION_KEYS: Final = frozenset(
    {"interactionType", "correctResponsesPattern", *_COMPONENT_LISTS}
)
_DEFINITION_KEYS: Final = _INTERACTION_KEYS | {
    "name",
    "description",
    "type",
    "moreInfo",
    "extensions",
}
_LISTS_BY_INTERACTION: Final[dict[str, tuple[str, ...]]] = {
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
_COMPONENT_KEYS: Final = frozenset({"id", "description"})
_RESULT_KEYS: Final = RESULT_KEYS
_SCORE_KEYS: Final = SCORE_KEYS
_CONTEXT_KEYS_1_0: Final = frozenset(
    {
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
        "extensions",
    }
)
_CONTEXT_KEYS_2_0: Final = _CONTEXT_KEYS_1_0 | {"contextAgents", "contextGroups"}
_VERSIONS_1_0: Final = VERSIONS_1_0
_VERSIONS_2_0: Final = VERSIONS_2_0
_ONLY_IN_2_0: Final = frozenset({"contextAgents", "contextGroups"})
_CONTEXT_ACTIVITY_KEYS: Final = CONTEXT_ACTIVITY_KEYS
_CONTEXT_AGENT_KEYS: Final = frozenset({"objectType", "agent", "relevantTypes"})
_CONTEXT_GROUP_KEYS: Final = frozenset({"objectType", "group", "relevantTypes"})
_ATTACHMENT_KEYS: Final = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)
_OBJECT_TYPES: Final = ("Activity", "Agent", "Group", "StatementRef", "SubStatement")
_PLAIN_KEY_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_LANGUAGE_MAP: Final = 'a language map: an object from RFC 5646 tag to text, like {"en-US": "..."}'
_AGENT_OR_GROUP: Final = "an Agent or Group object"
_IFI_NAMES: Final = "mbox, mbox_sha1sum, openid or account"


class _Run:
    """The problems found so far, and the rule set that applies."""

    __slots__ = ("attachment_hashes", "problems", "v2")

    def __init__(self, v2: bool, attachment_hashes: frozenset[str] | None) -> None:
        self.problems: list[StatementProblem] = []
        self.v2 = v2
        self.attachment_hashes = attachment_hashes


def validate_statement(
    statement: object,
    version: XapiVersion,
    *,
    attachment_hashes: Collection[str] | None = None,
) -> list[StatementProblem]:
    """Every problem of ``statement`` under the ``version`` rules; ``[]`` if valid.

    ``attachment_hashes`` is for receivers of ``multipart/mixed`` requests: the
    SHA-2 hex digests of the attachment parts that came with the statement.
    Left as None (a statement on its own, as on Kafka), attachments are checked
    as metadata only.

    The common valid shapes are accepted by the fast path (:mod:`schemas.xapi.fast`);
    everything else, and every invalid statement, by :func:`every_problem`.
    """
    if _accepts(statement, version == _V2_0):
        return []
    return every_problem(statement, version, attachment_hashes=attachment_hashes)


def every_problem(
    statement: object,
    version: XapiVersion,
    *,
    attachment_hashes: Collection[str] | None = None,
) -> list[StatementProblem]:
    """The every-error validator alone (no fast path): what :func:`validate_statement`
    answers, found the long way."""
    hashes = None
    if attachment_hashes is not None:
        given: Collection[object] = attachment_hashes  # any item not a str is skipped
        hashes = frozenset(h.lower() for h in given if isinstance(h, str))
    run = _Run(version == _V2_0, hashes)
    if isinstance(statement, dict):
        _statement(run, statement, "$", sub=False)
    else:
        _wrong_type(run, statement, "$", "a JSON object holding one statement")
    return run.problems


# -- reporting (only reached when something is wrong) -------------------------


def _problem(run: _Run, path: str, code: str, message: str) -> None:
    run.problems.append(StatementProblem(path, message, code))


def _excerpt(value: str) -> str:
    if len(value) > 80:
        value = value[:77] + "..."
    return json.dumps(value, ensure_ascii=False)


def _shown(value: object) -> str:
    """A short, safe rendering of any value for a message (no ``repr`` of strangers)."""
    if isinstance(value, str):
        return _excerpt(value)
    if value is None or value is True or value is False:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 128 else "a number too long to show"
    if isinstance(value, float):
        return repr(value)
    return f"a {type(value).__name__}"


def _describe(value: object) -> str:
    if value is True or value is False:
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the string {_excerpt(value)}"
    if isinstance(value, int | float):
        shown = _shown(value)
        return shown if shown.startswith("a ") else f"the number {shown}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "AEIOU" else f"a {noun}"


def _wrong_type(run: _Run, value: object, path: str, expected: str) -> None:
    if value is None:
        _problem(run, path, "null", f"null is not allowed here; expected {expected}")
    else:
        _problem(run, path, "type", f"expected {expected}, got {_describe(value)}")


def _required(run: _Run, path: str, message: str) -> None:
    _problem(run, path, "required", message)


def _key_path(path: str, key: object) -> str:
    if isinstance(key, str) and _PLAIN_KEY_RE.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key if isinstance(key, str) else _shown(key), ensure_ascii=False)}]"


def _unknown_keys(
    run: _Run, obj: dict[Any, Any], allowed: frozenset[str], path: str, where: str
) -> None:
    for key in obj:
        if key in allowed:
            continue
        if not isinstance(key, str):
            message = f"{where} has a property whose name is not a string"
        elif key in _ONLY_IN_2_0 and not run.v2:
            message = (
                f'"{key}" exists only in xAPI 2.0, and this statement is validated with the '
                'xAPI 1.0.3 rules: set "version" to "2.0.0" or send the statement as xAPI 2.0'
            )
        else:
            folded = key.casefold()
            match = next((name for name in sorted(allowed) if name.casefold() == folded), None)
            if match is not None:
                message = (
                    f'unknown property "{key}" in {where}: property names are case-sensitive, '
                    f'use "{match}"'
                )
            else:
                message = (
                    f"unknown property {_excerpt(key)} in {where}; "
                    f"allowed properties are {', '.join(sorted(allowed))}"
                )
        _problem(run, _key_path(path, key), "unknown_property", message)


def _object_type_problem(run: _Run, value: object, path: str, expected: tuple[str, ...]) -> None:
    wanted = " or ".join(f'"{name}"' for name in expected)
    if not isinstance(value, str):
        _wrong_type(run, value, path, f"the string {wanted}")
        return
    folded = value.casefold()
    match = next((name for name in expected if name.casefold() == folded), None)
    if match is not None:
        message = f'objectType is case-sensitive: use "{match}", not {_excerpt(value)}'
    else:
        message = f"objectType must be {wanted} here, got {_excerpt(value)}"
    _problem(run, path, "object_type", message)


def _iri_problem(run: _Run, value: object, path: str, what: str) -> None:
    if type(value) is not str:
        _wrong_type(run, value, path, "an IRI string")
        return
    if not formats.has_scheme(value):
        reason = "it does not start with a scheme such as https: or urn:"
    else:
        reason = (
            'it holds characters an IRI cannot (spaces, controls, <>"{}|\\^` or a bad %-escape)'
        )
    _problem(
        run,
        path,
        "iri",
        f"{what} {_excerpt(value)} is not an absolute IRI ({reason}); "
        'expected something like "https://example.com/xapi/..."',
    )


def _uuid_problem(run: _Run, value: object, path: str, what: str) -> None:
    if type(value) is not str:
        _wrong_type(run, value, path, "a UUID string")
        return
    _problem(
        run,
        path,
        "uuid",
        f"{what} must be a UUID in standard form, 32 hex digits as 8-4-4-4-12 "
        f'(like "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"), got {_excerpt(value)}',
    )


def _timestamp_problem(run: _Run, value: object, path: str, what: str) -> None:
    if type(value) is not str:
        _wrong_type(run, value, path, "a timestamp string")
        return
    if value.endswith(("-00", "-0000", "-00:00")):
        hint = "the offset -00:00 means 'unknown' and is not allowed; write Z or +00:00"
    elif run.v2:
        hint = (
            'xAPI 2.0 asks for RFC 3339 with a time zone, like "2024-05-01T09:30:00.250Z" '
            'or "2024-05-01T11:30:00+02:00"'
        )
    else:
        hint = 'expected an ISO 8601 date and time, like "2024-05-01T09:30:00.250Z"'
    _problem(run, path, "timestamp", f"{what} {_excerpt(value)} is not a valid timestamp: {hint}")


def _language_map_problems(run: _Run, value: object, path: str) -> None:
    if not isinstance(value, dict):
        _wrong_type(run, value, path, _LANGUAGE_MAP)
        return
    for tag, text in value.items():
        if type(tag) is not str or not _is_language_tag(tag):
            _problem(
                run,
                _key_path(path, tag),
                "language_map",
                f"{_shown(tag)} is not a well-formed RFC 5646 language tag "
                '(like "en", "en-US", "zh-Hant" or "sr-Latn-RS")',
            )
        if type(text) is not str:
            _wrong_type(run, text, _key_path(path, tag), "the text in that language, a string")


def _extension_problems(run: _Run, value: object, path: str) -> None:
    if not isinstance(value, dict):
        _wrong_type(run, value, path, "an extensions object whose keys are IRIs")
        return
    for key in value:
        if type(key) is not str or not _is_iri(key):
            _problem(
                run,
                _key_path(path, key),
                "extension",
                "extension keys must be absolute IRIs, like "
                f'"https://example.com/xapi/extensions/skill", got {_shown(key)}',
            )


def _not_a_number(run: _Run, value: object, path: str) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _wrong_type(run, value, path, "a number")
        return None
    if isinstance(value, float) and not _isfinite(value):
        _problem(run, path, "type", f"expected a finite number, got {value!r}")
        return None
    return value


# -- leaf checks: inline fast path, reporting on failure ----------------------


def _language_map(run: _Run, value: object, parent: str, key: str) -> None:
    if isinstance(value, dict):
        for tag, text in value.items():
            if type(text) is not str or (
                tag not in _known_tags and (type(tag) is not str or not _is_language_tag(tag))
            ):
                _language_map_problems(run, value, f"{parent}.{key}")
                return
    else:
        _wrong_type(run, value, f"{parent}.{key}", _LANGUAGE_MAP)


def _extensions(run: _Run, value: object, parent: str) -> None:
    if isinstance(value, dict):
        nested = False
        for key, item in value.items():
            if key not in _known_iris and (type(key) is not str or not _is_iri(key)):
                _extension_problems(run, value, parent + ".extensions")
                return
            nested = nested or type(item) is dict or type(item) is list
        if nested:
            _nesting(run, value, parent + ".extensions")
    else:
        _wrong_type(run, value, parent + ".extensions", "an extensions object whose keys are IRIs")


def _nesting(run: _Run, extensions: dict[Any, Any], path: str) -> None:
    """Refuse extension values that would take the statement past ``MAX_NESTING`` levels.

    The levels above ``path`` are its structural ones (each ``.name`` or ``[i]`` step is
    one object or array); extension values are the only free-form JSON a valid statement
    holds, so checking them bounds the whole statement.
    """
    above = 1 + path.count(".") + path.count("[")
    room = MAX_NESTING - above
    for key, item in extensions.items():
        if (type(item) is dict or type(item) is list) and _depth(item, room) > room:
            _problem(
                run,
                _key_path(path, key),
                "too_deep",
                f"this extension value nests more than {room} levels of objects and arrays; "
                f"a statement may nest at most {MAX_NESTING} levels in all",
            )


def _depth(value: dict[Any, Any] | list[Any], limit: int) -> int:
    """Levels of objects and arrays in ``value`` (an object or an array), counted up to
    ``limit + 1``, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        children = node.values() if type(node) is dict else node
        stack.extend(
            (child, level + 1) for child in children if type(child) is dict or type(child) is list
        )
    return deepest


def _iri(run: _Run, value: object, path: str, what: str) -> bool:
    if type(value) is str and (value in _known_iris or _is_iri(value)):
        return True
    _iri_problem(run, value, path, what)
    return False


def _timestamp(run: _Run, value: object, path: str, what: str) -> None:
    if type(value) is not str or not _is_timestamp(value, run.v2):
        _timestamp_problem(run, value, path, what)


# -- statements ---------------------------------------------------------------


def _statement(run: _Run, st: dict[Any, Any], path: str, sub: bool) -> None:
    if sub:
        if not _SUBSTATEMENT_SEEN_KEYS.issuperset(st):
            _unknown_keys(run, st, _SUBSTATEMENT_SEEN_KEYS, path, "a SubStatement")
        for key in _SUBSTATEMENT_FORBIDDEN:
            if key in st:
                _problem(
                    run,
                    f"{path}.{key}",
                    "substatement",
                    f'a SubStatement must not have "{key}": id, stored, version and authority '
                    "belong to the outer statement only",
                )
    else:
        if not _STATEMENT_KEYS.issuperset(st):
            _unknown_keys(run, st, _STATEMENT_KEYS, path, "a statement")
        if "id" in st:
            value = st["id"]
            if type(value) is not str or _match_uuid(value) is None:
                _uuid_problem(run, value, path + ".id", "the statement id")
        if "stored" in st:
            _timestamp(run, st["stored"], path + ".stored", "stored")
        if "authority" in st:
            _actor(run, st["authority"], path + ".authority", authority=True)
        if "version" in st:
            value = st["version"]
            if type(value) is not str or value not in (_VERSIONS_2_0 if run.v2 else _VERSIONS_1_0):
                _version(run, value, path + ".version")

    if "actor" in st:
        _actor(run, st["actor"], path + ".actor", authority=False)
    else:
        _required(run, path + ".actor", 'a statement needs "actor", the Agent or Group who did it')

    verb_id = None
    if "verb" in st:
        verb_id = _verb(run, st["verb"], path + ".verb")
    else:
        _required(run, path + ".verb", 'a statement needs "verb", an object with an IRI "id"')

    object_type = None
    if "object" in st:
        value = st["object"]
        if type(value) is dict and value.get("objectType", "Activity") == "Activity":
            _activity(run, value, path + ".object")
            object_type = "Activity"
        else:
            object_type = _object(run, value, path + ".object", sub)
        if verb_id == VOIDED_VERB and not sub and object_type != "StatementRef":
            _problem(
                run,
                path + ".object",
                "voiding",
                f"a voiding statement (verb {VOIDED_VERB}) must have a StatementRef object "
                'naming the voided statement: {"objectType": "StatementRef", "id": "<uuid>"}',
            )
    else:
        _required(run, path + ".object", 'a statement needs "object", what was acted on')

    if "result" in st:
        _result(run, st["result"], path + ".result")
    if "context" in st:
        _context(run, st["context"], path + ".context", object_type)
    if "timestamp" in st:
        value = st["timestamp"]
        if type(value) is not str or not _is_timestamp(value, run.v2):
            _timestamp_problem(run, value, path + ".timestamp", "timestamp")
    if "attachments" in st:
        _attachments(run, st["attachments"], path + ".attachments")


def _version(run: _Run, value: object, path: str) -> None:
    if type(value) is not str:
        _wrong_type(run, value, path, 'the xAPI version as a string, like "2.0.0"')
        return
    major = formats.version_major(value)
    if major is None:
        _problem(
            run,
            path,
            "version",
            f"version {_excerpt(value)} is not supported: use 1.0.x for xAPI 1.0.3 "
            "or 2.0.x for xAPI 2.0",
        )
    elif major != ("2" if run.v2 else "1"):
        rules = "2.0" if run.v2 else "1.0.3"
        _problem(
            run,
            path,
            "version",
            f"version {_excerpt(value)} does not match the xAPI {rules} rules this "
            "statement is validated with",
        )


# -- actors -------------------------------------------------------------------


def _actor(run: _Run, value: object, path: str, authority: bool) -> None:
    if not isinstance(value, dict):
        _wrong_type(run, value, path, _AGENT_OR_GROUP)
        return
    kind = value.get("objectType", _MISSING)
    if kind is _MISSING or kind == "Agent":
        _agent(run, value, path)
    elif kind == "Group":
        _group(run, value, path, authority)
    else:
        _object_type_problem(run, kind, path + ".objectType", ("Agent", "Group"))


def _agent(run: _Run, agent: dict[Any, Any], path: str) -> None:
    if not _AGENT_KEYS.issuperset(agent):
        _unknown_keys(run, agent, _AGENT_KEYS, path, "an Agent")
    if "name" in agent and type(agent["name"]) is not str:
        _wrong_type(run, agent["name"], path + ".name", "the Agent's name as a string")
    if "mbox" in agent and _OTHER_THAN_MBOX.isdisjoint(agent):
        value = agent["mbox"]
        if type(value) is str and _match_mailto(value) is not None:
            return
    found = _identifiers(run, agent, path)
    if found != 1:
        _problem(
            run,
            path,
            "ifi",
            f"an Agent is identified by exactly one of {_IFI_NAMES}; "
            + ("none is given" if found == 0 else f"{found} are given"),
        )


def _group(run: _Run, group: dict[Any, Any], path: str, authority: bool) -> None:
    if not _GROUP_KEYS.issuperset(group):
        _unknown_keys(run, group, _GROUP_KEYS, path, "a Group")
    if "name" in group and type(group["name"]) is not str:
        _wrong_type(run, group["name"], path + ".name", "the Group's name as a string")
    found = _identifiers(run, group, path)
    count: int | None = None
    if "member" in group:
        members = group["member"]
        if type(members) is list:
            count = len(members)
            for index, member in enumerate(members):
                _member(run, member, f"{path}.member[{index}]")
        else:
            count = -1
            _wrong_type(run, members, path + ".member", "an array of Agent objects")
    if found > 1:
        _problem(
            run,
            path,
            "ifi",
            f"an identified Group has exactly one of {_IFI_NAMES}; {found} are given",
        )
    if authority:
        if found or count != 2:
            _problem(
                run,
                path,
                "authority",
                "an authority that is a Group must be an anonymous Group (no "
                f"{_IFI_NAMES}) of exactly two Agents, the OAuth client and the user",
            )
    elif found == 0 and (count is None or count == 0):
        _problem(
            run,
            path + ".member" if count == 0 else path,
            "group",
            "an anonymous Group (one without mbox, mbox_sha1sum, openid or account) "
            'must list at least one Agent in "member"',
        )


def _member(run: _Run, member: object, path: str) -> None:
    if not isinstance(member, dict):
        _wrong_type(run, member, path, "an Agent object")
        return
    kind = member.get("objectType", _MISSING)
    if kind is _MISSING or kind == "Agent":
        _agent(run, member, path)
    elif kind == "Group":
        _problem(
            run,
            path + ".objectType",
            "group",
            "the members of a Group are Agents; a Group cannot contain a Group",
        )
    else:
        _object_type_problem(run, kind, path + ".objectType", ("Agent",))


def _identifiers(run: _Run, obj: dict[Any, Any], path: str) -> int:
    found = 0
    if "mbox" in obj:
        found = 1
        value = obj["mbox"]
        if type(value) is not str:
            _wrong_type(run, value, path + ".mbox", 'a "mailto:" IRI string')
        elif _match_mailto(value) is None:
            _problem(
                run,
                path + ".mbox",
                "mbox",
                'mbox must be "mailto:" followed by one e-mail address, like '
                f'"mailto:learner@example.com", got {_excerpt(value)}',
            )
    if "mbox_sha1sum" in obj:
        found += 1
        value = obj["mbox_sha1sum"]
        if type(value) is not str:
            _wrong_type(run, value, path + ".mbox_sha1sum", "a string of 40 hex digits")
        elif _match_sha1(value) is None:
            _problem(
                run,
                path + ".mbox_sha1sum",
                "mbox_sha1sum",
                "mbox_sha1sum must be the SHA-1 of the mailto IRI as 40 hex digits, "
                f"got {_excerpt(value)}",
            )
    if "openid" in obj:
        found += 1
        _iri(run, obj["openid"], path + ".openid", "openid")
    if "account" in obj:
        found += 1
        _account(run, obj["account"], path + ".account")
    return found


def _account(run: _Run, account: object, path: str) -> None:
    if not isinstance(account, dict):
        _wrong_type(run, account, path, 'an account object with "homePage" and "name"')
        return
    if not _ACCOUNT_KEYS.issuperset(account):
        _unknown_keys(run, account, _ACCOUNT_KEYS, path, "an account")
    if "homePage" in account:
        _iri(run, account["homePage"], path + ".homePage", "the account homePage")
    else:
        _problem(
            run,
            path + ".homePage",
            "account",
            'an account needs "homePage", the IRL of the system the account is on',
        )
    if "name" in account:
        if type(account["name"]) is not str:
            _wrong_type(run, account["name"], path + ".name", "the account name as a string")
    else:
        _problem(
            run,
            path + ".name",
            "account",
            'an account needs "name", the login or id of the person on that system',
        )


# -- verb and objects ---------------------------------------------------------


def _verb(run: _Run, verb: object, path: str) -> str | None:
    if not isinstance(verb, dict):
        _wrong_type(run, verb, path, 'a Verb object with an IRI "id"')
        return None
    if not _VERB_KEYS.issuperset(verb):
        _unknown_keys(run, verb, _VERB_KEYS, path, "a Verb")
    verb_id = None
    if "id" in verb:
        value = verb["id"]
        if type(value) is str and (value in _known_iris or _is_iri(value)):
            verb_id = value
        else:
            _iri_problem(run, value, path + ".id", "the verb id")
    else:
        _required(
            run,
            path + ".id",
            'a Verb needs "id", an IRI like "http://adlnet.gov/expapi/verbs/completed"',
        )
    if "display" in verb:
        _language_map(run, verb["display"], path, "display")
    return verb_id


def _object(run: _Run, obj: object, path: str, sub: bool) -> str | None:
    if not isinstance(obj, dict):
        _wrong_type(run, obj, path, "an Activity, Agent, Group, StatementRef or SubStatement")
        return None
    kind = obj.get("objectType", _MISSING)
    if kind is _MISSING or kind == "Activity":
        _activity(run, obj, path)
        return "Activity"
    if kind == "Agent":
        _agent(run, obj, path)
        return "Agent"
    if kind == "Group":
        _group(run, obj, path, authority=False)
        return "Group"
    if kind == "StatementRef":
        _statement_ref(run, obj, path)
        return "StatementRef"
    if kind == "SubStatement":
        if sub:
            _problem(
                run,
                path + ".objectType",
                "substatement",
                "a SubStatement cannot have a SubStatement as its object",
            )
        else:
            _statement(run, obj, path, sub=True)
        return "SubStatement"
    _object_type_problem(run, kind, path + ".objectType", _OBJECT_TYPES)
    return None


def _statement_ref(run: _Run, ref: dict[Any, Any], path: str) -> None:
    if not _STATEMENT_REF_KEYS.issuperset(ref):
        _unknown_keys(run, ref, _STATEMENT_REF_KEYS, path, "a StatementRef")
    if "id" in ref:
        value = ref["id"]
        if type(value) is not str or _match_uuid(value) is None:
            _uuid_problem(run, value, path + ".id", "the StatementRef id")
    else:
        _required(run, path + ".id", 'a StatementRef needs "id", the UUID of a statement')


def _activity(run: _Run, activity: dict[Any, Any], path: str) -> None:
    if not _ACTIVITY_KEYS.issuperset(activity):
        _unknown_keys(run, activity, _ACTIVITY_KEYS, path, "an Activity")
    if "id" in activity:
        value = activity["id"]
        if type(value) is not str or (value not in _known_iris and not _is_iri(value)):
            _iri_problem(run, value, path + ".id", "the activity id")
    else:
        _required(run, path + ".id", 'an Activity needs "id", an IRI naming it')
    if "definition" in activity:
        _definition(run, activity["definition"], path + ".definition")


def _definition(run: _Run, definition: object, path: str) -> None:
    if not isinstance(definition, dict):
        _wrong_type(run, definition, path, "an Activity definition object")
        return
    if not _DEFINITION_KEYS.issuperset(definition):
        _unknown_keys(run, definition, _DEFINITION_KEYS, path, "an Activity definition")
    if "name" in definition:
        _language_map(run, definition["name"], path, "name")
    if "description" in definition:
        _language_map(run, definition["description"], path, "description")
    if "type" in definition:
        value = definition["type"]
        if type(value) is not str or (value not in _known_iris and not _is_iri(value)):
            _iri_problem(run, value, path + ".type", "the activity type")
    if "moreInfo" in definition:
        _iri(run, definition["moreInfo"], path + ".moreInfo", "moreInfo")
    if "extensions" in definition:
        _extensions(run, definition["extensions"], path)
    if not _INTERACTION_KEYS.isdisjoint(definition):
        _interaction(run, definition, path)


def _interaction(run: _Run, definition: dict[Any, Any], path: str) -> None:
    kind = definition.get("interactionType", _MISSING)
    lists: tuple[str, ...] | None = None
    if kind is not _MISSING:
        if type(kind) is str and kind in _LISTS_BY_INTERACTION:
            lists = _LISTS_BY_INTERACTION[kind]
        elif type(kind) is str:
            names = ", ".join(f'"{name}"' for name in _LISTS_BY_INTERACTION)
            _problem(
                run,
                path + ".interactionType",
                "interaction",
                f"interactionType must be one of {names} (case-sensitive), got {_excerpt(kind)}",
            )
        else:
            _wrong_type(run, kind, path + ".interactionType", "an interactionType string")
    if "correctResponsesPattern" in definition:
        value = definition["correctResponsesPattern"]
        if kind is _MISSING:
            _problem(
                run,
                path + ".correctResponsesPattern",
                "interaction",
                "correctResponsesPattern belongs to interaction activities: add interactionType",
            )
        if type(value) is list:
            for index, pattern in enumerate(value):
                if type(pattern) is not str:
                    _wrong_type(
                        run, pattern, f"{path}.correctResponsesPattern[{index}]", "a string"
                    )
        else:
            _wrong_type(run, value, path + ".correctResponsesPattern", "an array of strings")
    for key in _COMPONENT_LISTS:
        if key not in definition:
            continue
        if kind is _MISSING:
            _problem(
                run,
                f"{path}.{key}",
                "interaction",
                f'"{key}" belongs to interaction activities: add interactionType',
            )
        elif lists is not None and key not in lists:
            takes = " and ".join(f'"{name}"' for name in lists) or "no component lists"
            _problem(
                run,
                f"{path}.{key}",
                "interaction",
                f'"{key}" is not used with interactionType "{kind}", which takes {takes}',
            )
        _components(run, definition[key], f"{path}.{key}")


def _components(run: _Run, components: object, path: str) -> None:
    if type(components) is not list:
        _wrong_type(run, components, path, "an array of interaction components")
        return
    seen: set[str] = set()
    for index, component in enumerate(components):
        where = f"{path}[{index}]"
        if not isinstance(component, dict):
            _wrong_type(run, component, where, 'an interaction component object with "id"')
            continue
        if not _COMPONENT_KEYS.issuperset(component):
            _unknown_keys(run, component, _COMPONENT_KEYS, where, "an interaction component")
        if "id" in component:
            value = component["id"]
            if type(value) is not str:
                _wrong_type(run, value, where + ".id", "the component id as a string")
            elif value in seen:
                _problem(
                    run,
                    where + ".id",
                    "interaction",
                    f"interaction component id {_excerpt(value)} appears twice in this list; "
                    "ids must be distinct",
                )
            else:
                seen.add(value)
        else:
            _required(run, where + ".id", 'an interaction component needs "id"')
        if "description" in component:
            _language_map(run, component["description"], where, "description")


# -- result, context, attachments ---------------------------------------------


def _result(run: _Run, result: object, path: str) -> None:
    if not isinstance(result, dict):
        _wrong_type(run, result, path, "a Result object")
        return
    if not _RESULT_KEYS.issuperset(result):
        _unknown_keys(run, result, _RESULT_KEYS, path, "a Result")
    if "score" in result:
        _score(run, result["score"], path + ".score")
    if "success" in result:
        value = result["success"]
        if value is not True and value is not False:
            _wrong_type(run, value, path + ".success", "true or false")
    if "completion" in result:
        value = result["completion"]
        if value is not True and value is not False:
            _wrong_type(run, value, path + ".completion", "true or false")
    if "response" in result and type(result["response"]) is not str:
        _wrong_type(run, result["response"], path + ".response", "the response as a string")
    if "duration" in result:
        value = result["duration"]
        if type(value) is not str:
            _wrong_type(run, value, path + ".duration", "an ISO 8601 duration string")
        elif not _is_duration(value):
            _problem(
                run,
                path + ".duration",
                "duration",
                f"duration {_excerpt(value)} is not an ISO 8601 duration: expected "
                'PnYnMnDTnHnMnS or PnW, like "PT1H30M", "PT95.5S" or "P4W"',
            )
    if "extensions" in result:
        _extensions(run, result["extensions"], path)


def _score(run: _Run, score: object, path: str) -> None:
    if not isinstance(score, dict):
        _wrong_type(run, score, path, "a Score object with numbers scaled, raw, min and max")
        return
    if not _SCORE_KEYS.issuperset(score):
        _unknown_keys(run, score, _SCORE_KEYS, path, "a Score")
    scaled = raw = low = high = None
    if "scaled" in score:
        scaled = score["scaled"]
        if type(scaled) is not int and (type(scaled) is not float or not _isfinite(scaled)):
            scaled = _not_a_number(run, scaled, path + ".scaled")
        if scaled is not None and not -1 <= scaled <= 1:
            _problem(
                run,
                path + ".scaled",
                "score",
                f"scaled must lie between -1 and 1 inclusive, got {_shown(scaled)}",
            )
    if "raw" in score:
        raw = score["raw"]
        if type(raw) is not int and (type(raw) is not float or not _isfinite(raw)):
            raw = _not_a_number(run, raw, path + ".raw")
    if "min" in score:
        low = score["min"]
        if type(low) is not int and (type(low) is not float or not _isfinite(low)):
            low = _not_a_number(run, low, path + ".min")
    if "max" in score:
        high = score["max"]
        if type(high) is not int and (type(high) is not float or not _isfinite(high)):
            high = _not_a_number(run, high, path + ".max")
    if low is not None and high is not None and not low < high:
        _problem(
            run,
            path + ".min",
            "score",
            f"min ({_shown(low)}) must be less than max ({_shown(high)})",
        )
    if raw is not None:
        if low is not None and raw < low:
            _problem(
                run,
                path + ".raw",
                "score",
                f"raw ({_shown(raw)}) is below min ({_shown(low)}); raw lies within [min, max]",
            )
        if high is not None and raw > high:
            _problem(
                run,
                path + ".raw",
                "score",
                f"raw ({_shown(raw)}) is above max ({_shown(high)}); raw lies within [min, max]",
            )


def _context(run: _Run, context: object, path: str, object_type: str | None) -> None:
    if not isinstance(context, dict):
        _wrong_type(run, context, path, "a Context object")
        return
    allowed = _CONTEXT_KEYS_2_0 if run.v2 else _CONTEXT_KEYS_1_0
    if not allowed.issuperset(context):
        _unknown_keys(run, context, allowed, path, "a Context")
    if "registration" in context:
        value = context["registration"]
        if type(value) is not str or _match_uuid(value) is None:
            _uuid_problem(run, value, path + ".registration", "registration")
    if "instructor" in context:
        _actor(run, context["instructor"], path + ".instructor", authority=False)
    if "team" in context:
        _team(run, context["team"], path + ".team", "team")
    if "contextActivities" in context:
        _context_activities(run, context["contextActivities"], path + ".contextActivities")
    not_activity = object_type is not None and object_type != "Activity"
    if "revision" in context and (not_activity or type(context["revision"]) is not str):
        _activity_only(run, context, path, "revision", object_type)
    if "platform" in context and (not_activity or type(context["platform"]) is not str):
        _activity_only(run, context, path, "platform", object_type)
    if "language" in context:
        value = context["language"]
        if type(value) is not str:
            _wrong_type(run, value, path + ".language", "an RFC 5646 language tag string")
        elif value not in _known_tags and not _is_language_tag(value):
            _problem(
                run,
                path + ".language",
                "language",
                f"language {_excerpt(value)} is not a well-formed RFC 5646 language tag "
                '(like "en", "fr-CA" or "zh-Hans-CN")',
            )
    if "statement" in context:
        _context_statement(run, context["statement"], path + ".statement")
    if "extensions" in context:
        _extensions(run, context["extensions"], path)
    if run.v2:
        if "contextAgents" in context:
            _context_agents(run, context["contextAgents"], path + ".contextAgents")
        if "contextGroups" in context:
            _context_groups(run, context["contextGroups"], path + ".contextGroups")


def _activity_only(
    run: _Run, context: dict[Any, Any], path: str, key: str, object_type: str | None
) -> None:
    value = context[key]
    if type(value) is not str:
        _wrong_type(run, value, f"{path}.{key}", f"the {key} as a string")
    if object_type is not None and object_type != "Activity":
        _problem(
            run,
            f"{path}.{key}",
            "context",
            f'"{key}" may only be used when the statement\'s object is an Activity; '
            f"here it is {_a(object_type)}",
        )


def _team(run: _Run, team: object, path: str, what: str) -> None:
    if not isinstance(team, dict):
        _wrong_type(run, team, path, 'a Group object with "objectType": "Group"')
        return
    kind = team.get("objectType", _MISSING)
    if kind == "Group":
        _group(run, team, path, authority=False)
    elif kind is _MISSING:
        _required(run, path + ".objectType", f'{what} must be a Group, with "objectType": "Group"')
    else:
        _object_type_problem(run, kind, path + ".objectType", ("Group",))


def _context_statement(run: _Run, ref: object, path: str) -> None:
    if not isinstance(ref, dict):
        _wrong_type(run, ref, path, "a StatementRef object")
        return
    kind = ref.get("objectType", _MISSING)
    if kind is _MISSING:
        _required(
            run,
            path + ".objectType",
            'context.statement must be a StatementRef, with "objectType": "StatementRef"',
        )
    elif kind != "StatementRef":
        _object_type_problem(run, kind, path + ".objectType", ("StatementRef",))
    _statement_ref(run, ref, path)


def _context_activities(run: _Run, value: object, path: str) -> None:
    if not isinstance(value, dict):
        _wrong_type(run, value, path, "an object with parent, grouping, category and/or other")
        return
    if not _CONTEXT_ACTIVITY_KEYS.issuperset(value):
        _unknown_keys(run, value, _CONTEXT_ACTIVITY_KEYS, path, "contextActivities")
    for key, activities in value.items():
        if key not in _CONTEXT_ACTIVITY_KEYS:
            continue
        if type(activities) is list:
            for index, activity in enumerate(activities):
                if type(activity) is dict and _PLAIN_ACTIVITY_KEYS.issuperset(activity):
                    ident = activity.get("id")
                    if (
                        type(ident) is str
                        and ident in _known_iris
                        and activity.get("objectType", "Activity") == "Activity"
                    ):
                        continue
                _context_activity(run, activity, f"{path}.{key}[{index}]")
        elif isinstance(activities, dict):
            _context_activity(run, activities, f"{path}.{key}")
        else:
            _wrong_type(run, activities, f"{path}.{key}", "an array of Activity objects")


def _context_activity(run: _Run, activity: object, path: str) -> None:
    if not isinstance(activity, dict):
        _wrong_type(run, activity, path, "an Activity object")
        return
    kind = activity.get("objectType", _MISSING)
    if kind is _MISSING or kind == "Activity":
        _activity(run, activity, path)
    else:
        _object_type_problem(run, kind, path + ".objectType", ("Activity",))


def _context_agents(run: _Run, value: object, path: str) -> None:
    if type(value) is not list:
        _wrong_type(run, value, path, "an array of contextAgent objects")
        return
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            _wrong_type(run, entry, where, "a contextAgent object")
            continue
        if not _CONTEXT_AGENT_KEYS.issuperset(entry):
            _unknown_keys(run, entry, _CONTEXT_AGENT_KEYS, where, "a contextAgent")
        _context_entry_type(run, entry, where, "contextAgent")
        if "agent" in entry:
            agent = entry["agent"]
            if not isinstance(agent, dict):
                _wrong_type(run, agent, where + ".agent", "an Agent object")
            else:
                kind = agent.get("objectType", _MISSING)
                if kind is _MISSING or kind == "Agent":
                    _agent(run, agent, where + ".agent")
                else:
                    _object_type_problem(run, kind, where + ".agent.objectType", ("Agent",))
        else:
            _required(run, where + ".agent", 'a contextAgent needs "agent", an Agent object')
        if "relevantTypes" in entry:
            _relevant_types(run, entry["relevantTypes"], where)


def _context_groups(run: _Run, value: object, path: str) -> None:
    if type(value) is not list:
        _wrong_type(run, value, path, "an array of contextGroup objects")
        return
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            _wrong_type(run, entry, where, "a contextGroup object")
            continue
        if not _CONTEXT_GROUP_KEYS.issuperset(entry):
            _unknown_keys(run, entry, _CONTEXT_GROUP_KEYS, where, "a contextGroup")
        _context_entry_type(run, entry, where, "contextGroup")
        if "group" in entry:
            _team(run, entry["group"], where + ".group", "group")
        else:
            _required(run, where + ".group", 'a contextGroup needs "group", a Group object')
        if "relevantTypes" in entry:
            _relevant_types(run, entry["relevantTypes"], where)


def _context_entry_type(run: _Run, entry: dict[Any, Any], path: str, expected: str) -> None:
    kind = entry.get("objectType", _MISSING)
    if kind is _MISSING:
        _required(run, path + ".objectType", f'a {expected} needs "objectType": "{expected}"')
    elif kind != expected:
        _object_type_problem(run, kind, path + ".objectType", (expected,))


def _relevant_types(run: _Run, types: object, parent: str) -> None:
    if type(types) is list and types:
        for iri in types:
            if type(iri) is not str or (iri not in _known_iris and not _is_iri(iri)):
                break
        else:
            return
    path = parent + ".relevantTypes"
    if type(types) is not list:
        _wrong_type(run, types, path, "a non-empty array of IRIs")
    elif not types:
        _problem(run, path, "context", "relevantTypes, when given, lists at least one type IRI")
    else:
        for index, iri in enumerate(types):
            if type(iri) is not str or (iri not in _known_iris and not _is_iri(iri)):
                _iri_problem(run, iri, f"{path}[{index}]", "a relevant type")


def _attachments(run: _Run, value: object, path: str) -> None:
    if type(value) is not list:
        _wrong_type(run, value, path, "an array of Attachment objects")
        return
    for index, attachment in enumerate(value):
        _attachment(run, attachment, f"{path}[{index}]")


def _attachment(run: _Run, attachment: object, path: str) -> None:
    if not isinstance(attachment, dict):
        _wrong_type(run, attachment, path, "an Attachment object")
        return
    if not _ATTACHMENT_KEYS.issuperset(attachment):
        _unknown_keys(run, attachment, _ATTACHMENT_KEYS, path, "an Attachment")
    usage = attachment.get("usageType", _MISSING)
    if usage is _MISSING:
        _required(run, path + ".usageType", 'an Attachment needs "usageType", an IRI')
    else:
        _iri(run, usage, path + ".usageType", "usageType")
    if "display" in attachment:
        _language_map(run, attachment["display"], path, "display")
    else:
        _required(run, path + ".display", 'an Attachment needs "display", a language map')
    if "description" in attachment:
        _language_map(run, attachment["description"], path, "description")
    content_type = attachment.get("contentType", _MISSING)
    if content_type is _MISSING:
        _required(run, path + ".contentType", 'an Attachment needs "contentType", a media type')
    elif type(content_type) is not str:
        _wrong_type(run, content_type, path + ".contentType", "a media type string")
    elif not formats.is_media_type(content_type):
        _problem(
            run,
            path + ".contentType",
            "attachment",
            f"contentType {_excerpt(content_type)} is not an Internet media type "
            '(like "application/pdf" or "text/plain; charset=utf-8")',
        )
    elif (
        usage == SIGNATURE_USAGE
        and content_type.split(";", 1)[0].strip().lower() != "application/octet-stream"
    ):
        _problem(
            run,
            path + ".contentType",
            "attachment",
            "a signature attachment must have contentType application/octet-stream",
        )
    if "length" in attachment:
        value = attachment["length"]
        if type(value) is not int:
            _wrong_type(run, value, path + ".length", "the size in octets, an integer")
        elif value < 0:
            _problem(
                run,
                path + ".length",
                "attachment",
                f"length must not be negative, got {_shown(value)}",
            )
    else:
        _required(run, path + ".length", 'an Attachment needs "length", its size in octets')
    sha2 = attachment.get("sha2", _MISSING)
    if sha2 is _MISSING:
        _required(run, path + ".sha2", 'an Attachment needs "sha2", the SHA-2 of its data')
    elif type(sha2) is not str:
        _wrong_type(run, sha2, path + ".sha2", "a hex SHA-2 digest string")
    elif not formats.is_sha2_hex(sha2):
        _problem(
            run,
            path + ".sha2",
            "attachment",
            "sha2 must be the hex SHA-224/256/384/512 digest of the attachment data, "
            f"got {_excerpt(sha2)}",
        )
    elif (
        run.attachment_hashes is not None
        and "fileUrl" not in attachment
        and sha2.lower() not in run.attachment_hashes
    ):
        _problem(
            run,
            path,
            "attachment",
            "this attachment has no fileUrl and no part of the request carries data with "
            "its sha2: send the data as a multipart/mixed part, or give fileUrl",
        )
    if "fileUrl" in attachment:
        _iri(run, attachment["fileUrl"], path + ".fileUrl", "fileUrl")
