"""String formats of xAPI statements: IRIs, e-mail IRIs, UUIDs, language tags, times.

Each check is a predicate over a ``str`` and never raises. The validator calls
them on the hot path, so the patterns are compiled once, written with
possessive quantifiers (no backtracking), and ASCII-only where the format is
(``[0-9]``, never ``\\d``, which also matches other scripts' digits). Values
that repeat across statements (verb ids, activity ids and types, extension
keys, language tags) are remembered in small bounded caches,
:data:`KNOWN_IRIS` and :data:`KNOWN_LANGUAGE_TAGS`, which are cleared when full
but never rebound, so the validator may test membership in them directly.

Timestamps follow the rule set of the version being validated:

* xAPI 1.0.3 asks for ISO 8601: extended (``2024-05-01T09:30:00.250+02:00``)
  or basic (``20240501T093000Z``) notation, seconds optional, and a zone that
  is recommended but not required (consumers read a missing zone as UTC);
* xAPI 2.0 asks for RFC 3339: ``YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)``.

Both reject the "unknown offset" forms ``-00``, ``-0000`` and ``-00:00``, year
0000, dates that do not exist, hour 24 and leap second 60, so that every
accepted timestamp parses with :meth:`datetime.datetime.fromisoformat`.
"""

from __future__ import annotations

import re
from typing import Final

_CACHE_LIMIT: Final = 4096

_IRI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*+:[^\x00-\x20<>\"{}|\\^`\x7f-\x9f]++")
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*+:")

_MAIL: Final = r"[^\x00-\x20\x7f@<>\"(),:;\[\]\\?#/.]++"
MAILTO_RE: Final = re.compile(rf"mailto:{_MAIL}(?:\.{_MAIL})*+@{_MAIL}(?:\.{_MAIL})*+")
SHA1_RE: Final = re.compile(r"[0-9a-fA-F]{40}")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]++")
_SHA2_HEX_LENGTHS: Final = frozenset({56, 64, 96, 128})
UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

_MEDIA_WORD: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]++"
_MEDIA_TYPE_RE: Final = re.compile(
    rf"{_MEDIA_WORD}/{_MEDIA_WORD}"
    rf"(?:[ \t]*+;[ \t]*+{_MEDIA_WORD}=(?:{_MEDIA_WORD}|\"(?:[^\"\\\x00-\x1f]|\\.)*+\"))*+[ \t]*+"
)

_LANGTAG_RE: Final = re.compile(
    r"""
    (?:
      (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})   # language, extlang
      (?:-[a-z]{4})?                                         # script
      (?:-(?:[a-z]{2}|[0-9]{3}))?                            # region
      (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*               # variants
      (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*                   # extensions
      (?:-x(?:-[a-z0-9]{1,8})+)?                             # private use
    |
      x(?:-[a-z0-9]{1,8})+
    )
    """,
    re.ASCII | re.IGNORECASE | re.VERBOSE,
)
_GRANDFATHERED: Final = frozenset(
    {
        "en-gb-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-be-fr",
        "sgn-be-nl",
        "sgn-ch-de",
        "art-lojban",
        "cel-gaulish",
        "no-bok",
        "no-nyn",
        "zh-guoyu",
        "zh-hakka",
        "zh-min",
        "zh-min-nan",
        "zh-xiang",
    }
)

_DURATION_COMMON_RE: Final = re.compile(
    r"P(?:[0-9]++Y)?+(?:[0-9]++M)?+(?:[0-9]++D)?+"
    r"(?:T(?:[0-9]++H)?+(?:[0-9]++M)?+(?:[0-9]++(?:\.[0-9]++)?+S)?+)?+"
)
_NUMBER: Final = r"[0-9]++(?:[.,][0-9]++)?+"
_DURATION_RE: Final = re.compile(
    rf"P(?:{_NUMBER}W"
    rf"|(?=[0-9]|T[0-9])(?:{_NUMBER}Y)?+(?:{_NUMBER}M)?+(?:{_NUMBER}D)?+"
    rf"(?:T(?=[0-9])(?:{_NUMBER}H)?+(?:{_NUMBER}M)?+(?:{_NUMBER}S)?+)?+)"
)
_DURATION_FRACTION_RE: Final = re.compile(r"[.,][0-9]++[A-Z]")

_YEAR: Final = r"(?!0000)[0-9]{4}"
_MONTH: Final = r"(?:0[1-9]|1[0-2])"
_DAY: Final = r"(?:0[1-9]|[12][0-9]|3[01])"
_HOUR: Final = r"(?:[01][0-9]|2[0-3])"
_MINUTE: Final = r"[0-5][0-9]"
_RFC3339_RE: Final = re.compile(
    rf"{_YEAR}-{_MONTH}-{_DAY}T{_HOUR}:{_MINUTE}:{_MINUTE}(?:\.[0-9]++)?+"
    rf"(?:Z|\+{_HOUR}:{_MINUTE}|-(?!00:00){_HOUR}:{_MINUTE})"
)
_ISO8601_RE: Final = re.compile(
    rf"{_YEAR}(?:"
    rf"-{_MONTH}-{_DAY}T{_HOUR}:{_MINUTE}(?::{_MINUTE}(?:[.,][0-9]++)?+)?+"
    rf"(?:Z|\+{_HOUR}(?::?{_MINUTE})?+|-(?!00(?::?00)?\Z){_HOUR}(?::?{_MINUTE})?+)?+"
    rf"|{_MONTH}{_DAY}T{_HOUR}{_MINUTE}(?:{_MINUTE}(?:[.,][0-9]++)?+)?+"
    rf"(?:Z|\+{_HOUR}(?:{_MINUTE})?+|-(?!00(?:00)?\Z){_HOUR}(?:{_MINUTE})?+)?+"
    r")"
)
_DAYS_IN_MONTH: Final = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_VERSION_RE: Final = re.compile(r"([12])\.0(?:\.[0-9]++)?+")

KNOWN_IRIS: Final[set[str]] = set()
KNOWN_LANGUAGE_TAGS: Final[set[str]] = set()


def _remember(cache: set[str], value: str) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache.add(value)


def is_iri(value: str) -> bool:
    """An absolute IRI: a scheme, a colon, then characters an IRI may hold."""
    if value in KNOWN_IRIS:
        return True
    if _IRI_RE.fullmatch(value) is None:
        return False
    if "%" in value and _BAD_PERCENT_RE.search(value) is not None:
        return False
    _remember(KNOWN_IRIS, value)
    return True


def has_scheme(value: str) -> bool:
    return _SCHEME_RE.match(value) is not None


def is_mailto(value: str) -> bool:
    """``mailto:`` followed by exactly one e-mail address, no query."""
    return MAILTO_RE.fullmatch(value) is not None


def is_sha1_hex(value: str) -> bool:
    return SHA1_RE.fullmatch(value) is not None


def is_sha2_hex(value: str) -> bool:
    """Hex digest of SHA-224, SHA-256, SHA-384 or SHA-512."""
    return len(value) in _SHA2_HEX_LENGTHS and _HEX_RE.fullmatch(value) is not None


def is_uuid(value: str) -> bool:
    return UUID_RE.fullmatch(value) is not None


def is_media_type(value: str) -> bool:
    return _MEDIA_TYPE_RE.fullmatch(value) is not None


def is_language_tag(value: str) -> bool:
    """Well-formed RFC 5646 tag, without repeated variants or extension singletons."""
    if value in KNOWN_LANGUAGE_TAGS:
        return True
    if value.lower() in _GRANDFATHERED:
        _remember(KNOWN_LANGUAGE_TAGS, value)
        return True
    if _LANGTAG_RE.fullmatch(value) is None:
        return False
    if len(value) > 9 and not _distinct_subtags(value.lower().split("-")):
        return False
    _remember(KNOWN_LANGUAGE_TAGS, value)
    return True


def _distinct_subtags(subtags: list[str]) -> bool:
    seen: set[str] = set()
    in_extensions = False
    for subtag in subtags[1:]:
        if subtag == "x":
            return True
        if len(subtag) == 1:
            in_extensions = True
            key = "-" + subtag
        elif not in_extensions and (len(subtag) >= 5 or (len(subtag) == 4 and subtag[0] <= "9")):
            key = subtag
        else:
            continue
        if key in seen:
            return False
        seen.add(key)
    return True


def is_duration(value: str) -> bool:
    """ISO 8601 duration ``PnYnMnDTnHnMnS`` or ``PnW``; a fraction only on the last part."""
    if _DURATION_COMMON_RE.fullmatch(value) is not None:
        return value[-1] not in "PT"
    if _DURATION_RE.fullmatch(value) is None:
        return False
    if "." in value or "," in value:
        found = _DURATION_FRACTION_RE.search(value)
        return found is not None and found.end() == len(value)
    return True


def is_timestamp(value: str, rfc3339: bool) -> bool:
    """Timestamp per the rule set: RFC 3339 for xAPI 2.0, ISO 8601 for 1.0.3."""
    if (_RFC3339_RE if rfc3339 else _ISO8601_RE).fullmatch(value) is None:
        return False
    extended = value[4] == "-"
    day = value[8:10] if extended else value[6:8]
    if day <= "28":
        return True
    month = int(value[5:7] if extended else value[4:6])
    if int(day) > _DAYS_IN_MONTH[month]:
        return False
    year = int(value[:4])
    return month != 2 or (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))


def version_major(value: str) -> str | None:
    """``"1"`` for ``1.0``/``1.0.x``, ``"2"`` for ``2.0``/``2.0.x``, else None."""
    match = _VERSION_RE.fullmatch(value)
    return None if match is None else match.group(1)
