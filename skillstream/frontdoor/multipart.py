"""Reading an xAPI ``multipart/mixed`` request: the statements part and the attachment parts.

xAPI sends attachment data in the same request as the statements that
describe them: the first part is the statements (``application/json``), each
later part holds one attachment's raw bytes with an ``X-Experience-API-Hash``
header (the SHA-2 of those bytes) and ``Content-Transfer-Encoding: binary``.

Contract of :func:`read_multipart`: it returns the statements bytes and one
:class:`AttachmentPart` per later part, with the SHA-224/256/384/512 digests
of its bytes computed here (an attachment's ``sha2`` may use any of them), or
raises :class:`~skillstream.frontdoor.problems.Rejected` naming what is wrong
with the request: no boundary, no closing boundary, a first part that is not
JSON, a part without ``X-Experience-API-Hash`` or whose hash is not the one of
its bytes, a transfer encoding other than ``binary``, more than ``max_parts``
attachment parts (413, counted before anything is split or hashed). Lines end with CRLF as
RFC 2046 requires. The attachment bytes are only hashed: skillstream keeps no
attachment store, so they are not forwarded anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from skillstream.frontdoor.problems import Problem, Rejected, request_problem

HASH_HEADER: Final = "x-experience-api-hash"
_DIGESTS: Final = ("sha224", "sha256", "sha384", "sha512")
_CRLF: Final = b"\r\n"


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    """One attachment part: headers (lower-case names), declared hash, digests, bytes."""

    number: int
    """Position in the request, 1 for the first attachment part (0 is the statements)."""
    headers: dict[str, str]
    declared_hash: str
    digests: frozenset[str]
    content: bytes


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower-cased, without its parameters."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a Content-Type value (quotes removed), or None."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None


def _reject(message: str) -> Rejected:
    return request_problem(message, "multipart")


def _parse_headers(block: bytes, number: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not block:
        return headers
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _reject(f"the headers of multipart part {number} are not UTF-8 text") from exc
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise _reject(f"multipart part {number} has a header line without a name: {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def split_parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart body as (headers, content); preamble and epilogue dropped."""
    delimiter = _CRLF + b"--" + boundary.encode("latin-1")
    segments = (_CRLF + body).split(delimiter)
    parts: list[tuple[dict[str, str], bytes]] = []
    closed = False
    for number, segment in enumerate(segments[1:]):
        if segment.startswith(b"--"):
            closed = True
            break
        line_end = segment.find(_CRLF)
        if line_end < 0 or segment[:line_end].strip(b" \t"):
            raise _reject(f"multipart boundary {number + 1} is not followed by a line end (CRLF)")
        rest = segment[line_end + 2 :]
        if rest.startswith(_CRLF):
            head, content = b"", rest[2:]
        else:
            head_end = rest.find(_CRLF + _CRLF)
            if head_end < 0:
                raise _reject(
                    f"multipart part {number} has no blank line (CRLF CRLF) after its headers"
                )
            head, content = rest[:head_end], rest[head_end + 4 :]
        parts.append((_parse_headers(head, number), content))
    if not closed:
        raise _reject(
            f'the multipart body does not end with the closing boundary "--{boundary}--" '
            "(lines must end with CRLF)"
        )
    return parts


def read_multipart(
    body: bytes, content_type: str, *, max_parts: int | None = None
) -> tuple[bytes, list[AttachmentPart]]:
    """The statements bytes and the attachment parts of an xAPI multipart/mixed request."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise _reject('Content-Type multipart/mixed needs a boundary parameter (boundary="…")')
    if max_parts is not None:
        # Each part starts at a delimiter; the statements part and the closing one are extra.
        found = (_CRLF + body).count(_CRLF + b"--" + boundary.encode("latin-1")) - 2
        if found > max_parts:
            raise request_problem(
                f"the multipart body has {found} attachment parts; this front door takes at "
                f"most {max_parts} per request: split the batch",
                "too_large",
                status=413,
            )
    parts = split_parts(body, boundary)
    if not parts:
        raise _reject("the multipart body has no parts: the first part must hold the statements")
    first_headers, statements = parts[0]
    first_type = media_type(first_headers.get("content-type"))
    if first_type != "application/json":
        shown = first_headers.get("content-type") or "none"
        raise _reject(
            f"the first multipart part must be the statements with Content-Type "
            f"application/json; its Content-Type is {shown}"
        )
    attachments: list[AttachmentPart] = []
    problems: list[Problem] = []
    for number, (headers, content) in enumerate(parts[1:], start=1):
        encoding = headers.get("content-transfer-encoding", "binary").lower()
        if encoding != "binary":
            problems.append(
                Problem(
                    None,
                    None,
                    f"multipart part {number} has Content-Transfer-Encoding {encoding}; "
                    "xAPI attachment parts are sent as binary",
                    "multipart",
                )
            )
            continue
        declared = headers.get(HASH_HEADER)
        digests = frozenset(hashlib.new(name, content).hexdigest() for name in _DIGESTS)
        if not declared:
            problems.append(
                Problem(
                    None,
                    None,
                    f"multipart part {number} has no X-Experience-API-Hash header "
                    "(the SHA-2 hex digest of the attachment data)",
                    "multipart",
                )
            )
            continue
        if declared.lower() not in digests:
            problems.append(
                Problem(
                    None,
                    None,
                    f"multipart part {number}: X-Experience-API-Hash {declared[:140]} is not the "
                    f"SHA-2 of its {len(content)} bytes",
                    "multipart",
                )
            )
            continue
        attachments.append(AttachmentPart(number, headers, declared.lower(), digests, content))
    if problems:
        raise Rejected(
            problems[0].message if len(problems) == 1 else "bad multipart parts", problems
        )
    return statements, attachments
