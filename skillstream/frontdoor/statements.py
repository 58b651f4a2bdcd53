"""The xAPI Statement API's request rules, as pure functions: bytes in, records or refusal out.

No Kafka and no HTTP framework here, so every rule is unit-tested directly
and the web layer (``app.py``) stays a thin wiring. :func:`accept` is the
whole contract: it takes what the request carried and returns the records
to produce, or raises :class:`~skillstream.frontdoor.problems.Rejected`
listing every problem. In order:

1. ``X-Experience-API-Version`` must be present and 1.0.x or 2.0.x
   (:func:`negotiate`); it picks the rules for statements that do not declare
   their own ``version``.
2. The body is ``application/json`` (one statement or an array) or an xAPI
   ``multipart/mixed`` request whose first part is that JSON and whose other
   parts are attachment data (:mod:`~skillstream.frontdoor.multipart`).
   The work per request is bounded before anything is parsed or validated
   (413 otherwise, "split the batch"): at most ``max_statements``
   (:data:`MAX_STATEMENTS`) statements, at most as many attachment parts, and
   at most :data:`VALUES_PER_STATEMENT` × ``max_statements`` JSON values,
   counted without parsing as the commas and opening brackets of the JSON
   (strings included, so it can only over-count). The last bound keeps the
   parser's memory in proportion: ``[{},{},…]`` costs ~70 bytes of objects
   per 3 bytes of JSON, so a 16 MiB body of it would take ~400 MB to parse.
3. Every statement is validated (``schemas.xapi``); the SHA-2 digests of the
   parts received are passed as ``attachment_hashes``, so an attachment with
   neither ``fileUrl`` nor data in the request is refused; a JSON request has
   no parts, so that holds for it too. Signature attachments are checked
   against their JWS part (:mod:`~skillstream.frontdoor.signatures`). Two
   statements with the same ``id``, a part no attachment describes, and for
   PUT an ``id`` other than ``statementId`` are problems too.
4. If anything is wrong the whole request is refused: nothing is produced.
   At most ``MAX_PROBLEMS`` problems are listed (``problems.py``).
5. Otherwise the receiver's properties are added to each statement, after
   validation: ``id`` when missing, ``stored`` (now, UTC, milliseconds),
   ``timestamp`` = ``stored`` when missing, and ``version`` when missing
   (``1.0.0`` under the 1.0.3 rules, ``2.0.0`` under the 2.0 rules, as each
   specification asks). ``authority`` is kept as sent.

Ids given to statements sent without one are ``statement_id_of`` (UUIDv5 of
the statement's content), the same id the worker derives for a statement that
reached Kafka without one. So an LMS that retries a request after a timeout or
a 503 gets the same ids, and the pipeline's de-duplication by statement id
makes the retry harmless. Two identical id-less statements in one batch thus
share an id and count once: send ids (or timestamps) to count repeats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas.normalize import statement_id_of
from schemas.xapi import StatementProblem, XapiVersion, resolve_version, validate_statement
from schemas.xapi.formats import is_uuid
from schemas.xapi.parse import DEFAULT_MAX_BYTES
from skillstream.frontdoor.multipart import AttachmentPart, media_type, read_multipart
from skillstream.frontdoor.problems import MAX_PROBLEMS, Problem, Rejected, request_problem
from skillstream.frontdoor.signatures import check_signature, is_signature
from skillstream.publishing import partition_key

VERSION_HEADER: Final = "X-Experience-API-Version"
SUPPORTED: Final = "1.0.x (xAPI 1.0.3) or 2.0.x (xAPI 2.0)"
RESPONSE_VERSION: Final = {XapiVersion.V1_0_3: "1.0.3", XapiVersion.V2_0: "2.0.0"}
"""The version a response declares: the newest patch of the rules the request used."""
STORED_VERSION: Final = {XapiVersion.V1_0_3: "1.0.0", XapiVersion.V2_0: "2.0.0"}
"""The ``version`` a receiver sets on a statement sent without one, per specification."""
MAX_STATEMENTS: Final = 10_000
"""Statements (and attachment parts) one request may hold; ``serve --max-statements``."""
VALUES_PER_STATEMENT: Final = 200
"""JSON values (commas and opening brackets) allowed per statement of ``max_statements``:
2,000,000 for the default, which parse into at most ~70 MB of objects."""


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The request's ``X-Experience-API-Version``: as sent, and the rules it selects."""

    header: str
    rules: XapiVersion

    @property
    def response_version(self) -> str:
        return RESPONSE_VERSION[self.rules]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One accepted statement, ready to produce: its id, JSON bytes and partition key."""

    statement_id: str
    value: bytes
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted request: the ids to answer with and the records to produce, in order."""

    ids: list[str]
    records: list[Outgoing]
    received: int
    version_header: str
    """The request's X-Experience-API-Version as sent: each record carries it as a header."""


def negotiate(header: str | None) -> Negotiated:
    """The rules selected by the ``X-Experience-API-Version`` header, or a 400 naming it."""
    if header is None or not header.strip():
        raise request_problem(
            f"the {VERSION_HEADER} header is required: send {SUPPORTED}, e.g. "
            f"'{VERSION_HEADER}: 2.0.0'",
            "version_header",
        )
    value = header.strip()
    rules, _ = resolve_version({}, value)
    if rules is None:
        raise request_problem(
            f"the {VERSION_HEADER} header is {value[:40]!r}, which this front door does not "
            f"support: send {SUPPORTED}",
            "version_header",
        )
    return Negotiated(value, rules)


def read_body(
    body: bytes, content_type: str | None, max_parts: int = MAX_STATEMENTS
) -> tuple[bytes, list[AttachmentPart] | None]:
    """The statements JSON and the attachment parts (None for a plain JSON request)."""
    kind = media_type(content_type)
    if kind in ("", "application/json"):
        return body, None
    if kind == "multipart/mixed":
        assert content_type is not None
        return read_multipart(body, content_type, max_parts=max_parts)
    raise request_problem(
        f"Content-Type {content_type[:80] if content_type else ''!r} is not accepted: send "
        "application/json, or multipart/mixed when attachment data comes with the statements",
        "content_type",
    )


def json_values_at_most(raw: bytes) -> int:
    """An upper bound of the number of values in the JSON ``raw``, without parsing it:
    every value but the first follows a comma or an opening bracket."""
    return raw.count(b",") + raw.count(b"{") + raw.count(b"[") + 1


def check_work(raw: bytes, max_statements: int) -> None:
    """Refuse (413) JSON that would cost more to parse than ``max_statements`` allow."""
    most = VALUES_PER_STATEMENT * max_statements
    counted = json_values_at_most(raw)
    if counted > most:
        raise request_problem(
            f"the statements hold up to {counted} JSON values (commas and brackets); this "
            f"front door parses at most {most} per request ({VALUES_PER_STATEMENT} per "
            f"statement of the {max_statements} a request may hold): split the batch",
            "too_large",
            status=413,
        )


def parse_statements(raw: bytes, max_statements: int = MAX_STATEMENTS) -> tuple[list[Any], bool]:
    """The statements of the JSON body and whether it was an array (413 if more than
    ``max_statements``: refused before any of them is looked at)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise request_problem(f"the statements are not valid JSON: {exc}", "json") from exc
    if isinstance(document, list):
        if len(document) > max_statements:
            count = len(document)
            del document
            raise request_problem(
                f"the batch holds {count} statements; this front door takes at most "
                f"{max_statements} per request: split the batch",
                "too_many_statements",
                status=413,
            )
        return document, True
    if isinstance(document, dict):
        return [document], False
    raise request_problem(
        "the body must be one statement (a JSON object) or an array of statements", "json"
    )


def _now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _as_problem(index: int, problem: StatementProblem) -> Problem:
    return Problem(index, problem.path, problem.message, problem.code)


class _Batch:
    """Problems of one request, gathered before anything is decided: the first
    ``MAX_PROBLEMS`` kept, the others only counted (so memory stays bounded)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.omitted = 0
        self.invalid: set[int] = set()
        self.codes: Counter[str] = Counter()

    def __bool__(self) -> bool:
        return bool(self.problems)

    def keep(self, problem: Problem) -> None:
        self.codes[problem.code] += 1
        if problem.index is not None:
            self.invalid.add(problem.index)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.omitted += 1

    def add(self, index: int | None, path: str | None, message: str, code: str) -> None:
        self.keep(Problem(index, path, message, code))


def _validate(
    statements: Sequence[Any],
    negotiated: Negotiated,
    default_version: str,
    parts: list[AttachmentPart] | None,
    batch: _Batch,
) -> list[XapiVersion]:
    """Validate each statement under its rules; return the rules used per statement."""
    hashes: set[str] = set()
    for part in parts or ():
        hashes |= part.digests
    used: list[XapiVersion] = []
    for index, statement in enumerate(statements):
        rules, version_problems = resolve_version(statement, negotiated.header, default_version)
        for problem in version_problems:
            batch.keep(_as_problem(index, problem))
        checked_with = rules or negotiated.rules
        for problem in validate_statement(statement, checked_with, attachment_hashes=hashes):
            if rules is None and problem.path == "$.version":
                continue
            batch.keep(_as_problem(index, problem))
        used.append(checked_with)
    return used


def _check_ids(statements: Sequence[Any], batch: _Batch) -> None:
    first_seen: dict[str, int] = {}
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        given = statement.get("id")
        if not isinstance(given, str) or not is_uuid(given):
            continue
        seen = first_seen.setdefault(given.lower(), index)
        if seen != index:
            batch.add(
                index,
                "$.id",
                f"id {given} is also the id of statement [{seen}] of this batch: "
                "each statement needs its own id",
                "duplicate_id",
            )


def _check_parts(
    statements: Sequence[Any], parts: list[AttachmentPart] | None, batch: _Batch
) -> None:
    """Signature attachments against their JWS parts; every part must belong to an attachment."""
    by_digest: dict[str, AttachmentPart] = {}
    for candidate in reversed(parts or ()):  # the first part with a digest wins, as a scan would
        by_digest.update(dict.fromkeys(candidate.digests, candidate))
    referenced: set[int] = set()
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or not isinstance(statement.get("attachments"), list):
            continue
        for position, attachment in enumerate(statement["attachments"]):
            if not isinstance(attachment, dict) or not isinstance(attachment.get("sha2"), str):
                continue
            sha2 = attachment["sha2"].lower()
            part = by_digest.get(sha2)
            if part is not None:
                referenced.add(part.number)
            if not is_signature(attachment):
                continue
            path = f"$.attachments[{position}]"
            if part is None:
                if "fileUrl" not in attachment:
                    continue  # the validator has reported the missing data already
                batch.add(
                    index,
                    path,
                    "a signature attachment needs its JWS sent as a multipart/mixed part "
                    "whose X-Experience-API-Hash is this sha2",
                    "signature",
                )
                continue
            for message in check_signature(statement, part.content):
                batch.add(index, path, message, "signature")
    for part in parts or ():
        if part.number not in referenced:
            batch.add(
                None,
                None,
                f"multipart part {part.number} (X-Experience-API-Hash {part.declared_hash}) is "
                "the data of no attachment in the statements: each part must match an "
                "attachment's sha2",
                "attachment",
            )


def _enrich(statement: dict[str, Any], rules: XapiVersion, stored: str) -> dict[str, Any]:
    """The statement with the receiver's properties added (see the module docstring)."""
    out = {"id": statement.get("id") or statement_id_of(statement)}
    out.update(statement)
    out["stored"] = stored
    out.setdefault("timestamp", stored)
    out.setdefault("version", STORED_VERSION[rules])
    return out


def accept(
    body: bytes,
    content_type: str | None,
    version_header: str | None,
    *,
    secret: bytes,
    default_version: str = "2.0.0",
    statement_id: str | None = None,
    single: bool = False,
    max_statement_bytes: int = DEFAULT_MAX_BYTES,
    max_statements: int = MAX_STATEMENTS,
) -> Accepted:
    """Apply the Statement API's rules to one request (see the module docstring).

    ``single`` is PUT: the body must be one statement, and ``statement_id`` (the
    ``statementId`` parameter, already checked present) must equal its ``id`` if
    it has one, and becomes its ``id`` if not.
    """
    negotiated = negotiate(version_header)
    raw, parts = read_body(body, content_type, max_parts=max_statements)
    check_work(raw, max_statements)
    statements, is_array = parse_statements(raw, max_statements)
    if single and is_array:
        raise request_problem("PUT stores one statement: send a JSON object, not an array", "json")
    batch = _Batch()
    if statement_id is not None:
        statements = [_with_statement_id(statements[0], statement_id, batch)]
    used = _validate(statements, negotiated, default_version, parts, batch)
    _check_ids(statements, batch)
    _check_parts(statements, parts, batch)
    if batch:
        raise _refusal(batch, len(statements))
    stored = _now()
    ids: list[str] = []
    records: list[Outgoing] = []
    for index, (statement, rules) in enumerate(zip(statements, used, strict=True)):
        enriched = _enrich(statement, rules, stored)
        # orjson's result keeps its growth buffer (16 KiB for a 1.6 KB statement): an exact
        # copy makes a 16 MiB batch hold ~16 MiB of records while it is produced, not ~160.
        value = memoryview(orjson.dumps(enriched)).tobytes()
        if len(value) > max_statement_bytes:
            batch.add(
                index,
                "$",
                f"the statement is {len(value)} bytes as stored; the limit is "
                f"{max_statement_bytes} bytes",
                "too_large",
            )
            continue
        ids.append(enriched["id"])
        records.append(Outgoing(enriched["id"], value, partition_key(value, secret)))
    if batch:
        raise _refusal(batch, len(statements))
    return Accepted(ids, records, len(statements), negotiated.header)


def _with_statement_id(statement: Any, statement_id: str, batch: _Batch) -> Any:
    if not is_uuid(statement_id):
        raise request_problem(
            f"statementId {statement_id[:60]!r} is not a UUID "
            "(like 12345678-1234-4678-9234-123456789012)",
            "statement_id",
        )
    if not isinstance(statement, dict):
        return statement
    given = statement.get("id")
    if given is None:
        return {"id": statement_id, **statement}
    if not isinstance(given, str) or given.lower() != statement_id.lower():
        batch.add(
            0,
            "$.id",
            f"the statement's id {str(given)[:60]!r} is not the statementId parameter "
            f"{statement_id}: leave id out or make them equal",
            "statement_id",
        )
    return statement


def _refusal(batch: _Batch, count: int) -> Rejected:
    problems = batch.problems
    if batch.invalid:
        what = f"{len(batch.invalid)} of {count} statement(s) invalid"
        error = f"{what}; nothing was stored: fix every problem listed and send the batch again"
    else:
        error = problems[0].message if len(problems) == 1 else "the request is invalid"
    return Rejected(error, problems, received=count, omitted=batch.omitted, codes=batch.codes)
