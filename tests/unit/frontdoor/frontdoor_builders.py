"""Statements and multipart bodies for the front door tests (unit and integration)."""

from __future__ import annotations

import copy
import hashlib
import uuid
from typing import Any

import orjson

USERNAME = "lms-test"
PASSWORD = "correct horse battery staple"
V2 = {"X-Experience-API-Version": "2.0.0"}
V1 = {"X-Experience-API-Version": "1.0.3"}
SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"

_BASE: dict[str, Any] = {
    "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
    "object": {
        "objectType": "Activity",
        "id": "https://lms.example.com/courses/kafka-101",
        "definition": {"name": {"en-US": "Kafka 101"}},
    },
    "timestamp": "2026-03-02T09:00:00.000Z",
}


def statement(**changes: Any) -> dict[str, Any]:
    """A valid statement (no id unless given); keyword ``x=None`` removes ``x``."""
    out = copy.deepcopy(_BASE)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def learner(n: int) -> dict[str, Any]:
    return {"objectType": "Agent", "mbox": f"mailto:learner{n}@example.com"}


def new_id() -> str:
    return str(uuid.uuid4())


def attachment(
    data: bytes,
    *,
    usage: str = "https://w3id.org/skillstream/attachments/certificate",
    content_type: str = "application/pdf",
    file_url: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "usageType": usage,
        "display": {"en-US": "certificate"},
        "contentType": content_type,
        "length": len(data),
        "sha2": hashlib.sha256(data).hexdigest(),
    }
    if file_url is not None:
        out["fileUrl"] = file_url
    return out


def multipart(
    statements: Any,
    parts: list[bytes],
    *,
    boundary: str = "skillstream-test-boundary",
    part_headers: list[dict[str, str]] | None = None,
    first_type: str = "application/json",
) -> tuple[bytes, str]:
    """An xAPI multipart/mixed body: the statements, then one part per attachment."""
    crlf = b"\r\n"
    out = [b"--" + boundary.encode(), crlf]
    out += [f"Content-Type: {first_type}".encode(), crlf, crlf, orjson.dumps(statements), crlf]
    for i, data in enumerate(parts):
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Transfer-Encoding": "binary",
            "X-Experience-API-Hash": hashlib.sha256(data).hexdigest(),
        }
        if part_headers is not None:
            headers = {k: v for k, v in {**headers, **part_headers[i]}.items() if v}
        out.append(b"--" + boundary.encode() + crlf)
        for name, value in headers.items():
            out.append(f"{name}: {value}".encode() + crlf)
        out += [crlf, data, crlf]
    out += [b"--" + boundary.encode() + b"--", crlf]
    return b"".join(out), f'multipart/mixed; boundary="{boundary}"'
