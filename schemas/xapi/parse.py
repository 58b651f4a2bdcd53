"""From the bytes of a Kafka record (or an HTTP body) to a validated statement.

Contract:

* :func:`resolve_version` picks the rule set the way an LRS does: the
  statement's own ``version`` if it has one, else the
  ``X-Experience-API-Version`` header (HTTP header or Kafka record header),
  else the configured default. ``1.0``/``1.0.x`` selects the xAPI 1.0.3 rules,
  ``2.0``/``2.0.x`` the xAPI 2.0 rules; anything else is a ``version`` problem.
* :func:`parse_statement` never raises. It reports ``too_large`` before
  reading, ``utf8`` for bytes that are not UTF-8, ``json`` for text that is not
  JSON, ``too_deep`` for JSON nested past what the reader takes (the validator
  reports anything past ``MAX_NESTING`` the same way), ``type`` for JSON that
  is not an object, and otherwise every problem
  :func:`~schemas.xapi.validator.validate_statement` finds. When no rule set
  can be chosen it still validates with the header's (or default) rules, so
  the LMS developer sees every problem at once; the version returned is then
  None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import orjson

from schemas.compiled import shared_native
from schemas.xapi import formats
from schemas.xapi.problems import MAX_NESTING, StatementProblem, XapiVersion
from schemas.xapi.validator import validate_statement

DEFAULT_MAX_BYTES: Final = 1_000_000

native: Final = shared_native()
"""The native module (``native/``), or None where it is not built or not wanted."""
native_accepts: Final[Callable[[bytes, bool], bool] | None] = (
    None if native is None else native.accepts
)
"""The validator's fast path read straight from a record's bytes (``native/``, built by
``make compile``): True only for a statement certainly valid under the rules; anything it
declines takes the Python fast path, then the every-error validator."""

_BY_MAJOR: Final = {"1": XapiVersion.V1_0_3, "2": XapiVersion.V2_0}
_COMMON: Final = {
    "1.0.0": XapiVersion.V1_0_3,
    "1.0.3": XapiVersion.V1_0_3,
    "2.0.0": XapiVersion.V2_0,
}
_SUPPORTED: Final = "use 1.0.x (xAPI 1.0.3) or 2.0.x (xAPI 2.0)"


def _rules_for(value: str) -> XapiVersion | None:
    rules = _COMMON.get(value)
    if rules is not None:
        return rules
    major = formats.version_major(value)
    return None if major is None else _BY_MAJOR[major]


def resolve_version(
    statement: object, header_version: str | None, default: str = "2.0.0"
) -> tuple[XapiVersion | None, list[StatementProblem]]:
    """The rule set for ``statement``, or None with the reason."""
    if isinstance(statement, dict) and "version" in statement:
        declared = statement["version"]
        if isinstance(declared, str):
            rules = _rules_for(declared)
            if rules is not None:
                return rules, []
            shown = json.dumps(declared[:80], ensure_ascii=False)
            message = (
                f"the statement declares version {shown}, which is not supported: {_SUPPORTED}"
            )
            return None, [StatementProblem("$.version", message, "version")]
        message = 'version must be a string like "2.0.0"'
        return None, [StatementProblem("$.version", message, "version")]
    if header_version is not None:
        rules = _rules_for(header_version.strip())
        if rules is not None:
            return rules, []
        shown = json.dumps(header_version[:80], ensure_ascii=False)
        message = (
            f"the X-Experience-API-Version header is {shown}, which is not supported: {_SUPPORTED}"
        )
        return None, [StatementProblem("$", message, "version")]
    rules = _rules_for(default.strip())
    if rules is not None:
        return rules, []
    message = f"the configured default xAPI version {default!r} is not supported: {_SUPPORTED}"
    return None, [StatementProblem("$", message, "version")]


def parse_statement(
    raw: bytes,
    header_version: str | None = None,
    default_version: str = "2.0.0",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[dict[str, Any] | None, XapiVersion | None, list[StatementProblem]]:
    """Parse and validate one statement: (statement, rule set, problems)."""
    size = len(raw)
    if size > max_bytes:
        message = f"the statement is {size} bytes; the limit is {max_bytes} bytes"
        return None, None, [StatementProblem("$", message, "too_large")]
    try:
        statement = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, None, [_undecodable(raw, exc)]
    if not isinstance(statement, dict):
        kind = "an array" if isinstance(statement, list) else "a single JSON value"
        message = f"expected one statement, a JSON object, but the record holds {kind}"
        return None, None, [StatementProblem("$", message, "type")]
    rules, problems = resolve_version(statement, header_version, default_version)
    if rules is not None:
        v2 = rules is XapiVersion.V2_0
        if native_accepts is not None and type(raw) is bytes and native_accepts(raw, v2):
            return statement, rules, []
        return statement, rules, validate_statement(statement, rules)
    fallback = _fallback_rules(header_version, default_version)
    for problem in validate_statement(statement, fallback):
        if problem.path != "$.version":
            problems.append(problem)
    return statement, None, problems


@lru_cache(maxsize=64)
def default_rules(header_version: str | None, default_version: str) -> XapiVersion | None:
    """The rule set of a statement that declares no version (the header's, else the
    default), or None when that is not one ``resolve_version`` takes."""
    rules, _ = resolve_version(None, header_version, default_version)
    return rules


def _fallback_rules(header_version: str | None, default_version: str) -> XapiVersion:
    for candidate in (header_version, default_version):
        if candidate is not None:
            rules = _rules_for(candidate.strip())
            if rules is not None:
                return rules
    return XapiVersion.V2_0


def _undecodable(raw: bytes, exc: orjson.JSONDecodeError) -> StatementProblem:
    if not isinstance(raw, str):
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as bad:
            message = (
                f"the record is not valid UTF-8 (byte {bad.start} cannot start or continue "
                "a character)"
            )
            return StatementProblem("$", message, "utf8")
    if exc.msg == "depth limit exceeded":
        return StatementProblem(
            "$",
            f"the record nests objects and arrays more than {MAX_NESTING} levels deep "
            "(far more: the JSON reader stopped at 1024)",
            "too_deep",
        )
    return StatementProblem("$", f"the record is not valid JSON: {exc}", "json")
