"""Signed statements: checking the JWS that came as a signature attachment part.

An xAPI statement is signed by attaching a JSON Web Signature (compact
serialization, ``header.payload.signature``) whose payload is the statement as
it was before the signature attachment was added. The validator checks the
attachment's metadata; only the front door sees the JWS bytes, so it checks
the rest here, as an LRS must before storing a signed statement:

* the part decodes as a compact JWS with a JSON header and a JSON object payload;
* ``alg`` is RS256, RS384 or RS512;
* the payload is logically equivalent to the statement received (below);
* when the header carries ``x5c``, the signature verifies with the RSA public
  key of its first certificate. Without ``x5c`` there is no key to verify
  with; the statement is accepted on the three checks above, as the
  specification allows. The certificate chain is not checked against any
  trust store: skillstream records who signed, it does not decide whom to trust.

Logical equivalence ignores what an LRS may add or change: ``id`` (compared
case-insensitively when both have one), ``authority``, ``stored``,
``version``, the signature attachments themselves, a ``timestamp`` missing
from one side (two timestamps are compared as instants), Activity
definitions and verb ``display`` maps (not part of a statement's meaning),
the case of UUIDs and the order of a Group's members. Anything else that
differs is reported with the JSON path of the first difference.

Verifying needs the ``cryptography`` package (only for JWS with ``x5c``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Final

import orjson

from schemas.xapi.validator import SIGNATURE_USAGE

ALGORITHMS: Final = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}
_IGNORED: Final = frozenset({"authority", "stored", "version"})


def _b64url(segment: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def is_signature(attachment: object) -> bool:
    return isinstance(attachment, dict) and attachment.get("usageType") == SIGNATURE_USAGE


def check_signature(statement: dict[str, Any], jws: bytes) -> list[str]:
    """Every problem of the JWS ``jws`` signing ``statement``; ``[]`` when it holds."""
    try:
        text = jws.decode("ascii").strip()
    except UnicodeDecodeError:
        return ["the signature part is not a JWS: it holds bytes that are not ASCII"]
    segments = text.split(".")
    if len(segments) != 3 or not all(segments):
        return [
            "the signature part is not a JWS in compact serialization "
            f"(header.payload.signature): it has {len(segments)} dot-separated segment(s)"
        ]
    try:
        header = orjson.loads(_b64url(segments[0]))
        payload = orjson.loads(_b64url(segments[1]))
        signature = _b64url(segments[2])
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return ["the signature part is not a JWS: a segment is not base64url-encoded JSON"]
    if not isinstance(header, dict):
        return ["the JWS header is not a JSON object"]
    problems: list[str] = []
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        problems.append(
            f"the JWS algorithm is {orjson.dumps(alg).decode()[:40]}; "
            "xAPI signatures use RS256, RS384 or RS512"
        )
    if not isinstance(payload, dict):
        problems.append("the JWS payload is not a JSON object: it must be the signed statement")
    else:
        difference = first_difference(_comparable(payload), _comparable(statement), "$")
        if difference is not None:
            problems.append(
                "the signed statement (JWS payload) differs from the statement sent "
                f"at {difference}"
            )
    if not problems and "x5c" in header:
        problems.extend(_verify_x5c(header["x5c"], str(alg), segments, signature))
    return problems


def _verify_x5c(x5c: object, alg: str, segments: list[str], signature: bytes) -> list[str]:
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        return ["the JWS header x5c must be a non-empty array of base64 DER certificates"]
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - depends on the installation
        return [
            "this front door cannot verify x5c signatures: the Python package "
            "'cryptography' is not installed (pip install cryptography)"
        ]
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
    except (ValueError, binascii.Error):
        return ["the first certificate in the JWS header x5c is not a base64 DER X.509 certificate"]
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return [f"the x5c certificate holds a {type(key).__name__}, not an RSA key ({alg})"]
    digest = getattr(hashes, ALGORITHMS[alg])()
    signed = f"{segments[0]}.{segments[1]}".encode("ascii")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), digest)
    except InvalidSignature:
        return [f"the JWS signature does not verify with the x5c certificate's key ({alg})"]
    return []


def _instant(value: object) -> object:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement without what an LRS may add or change (see the module docstring)."""
    out = {k: v for k, v in statement.items() if k not in _IGNORED}
    if isinstance(out.get("id"), str):
        out["id"] = out["id"].lower()
    attachments = out.get("attachments")
    if isinstance(attachments, list):
        kept = [a for a in attachments if not is_signature(a)]
        if kept:
            out["attachments"] = kept
        else:
            del out["attachments"]
    if "timestamp" in out:
        out["timestamp"] = _instant(out["timestamp"])
    stripped: dict[str, Any] = _strip_descriptions(out)
    return stripped


def _strip_descriptions(value: Any) -> Any:
    """Activity definitions and verb displays removed, Group members in a stable order."""
    if isinstance(value, list):
        return [_strip_descriptions(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "definition" and "id" in value and value.get("objectType") in (None, "Activity"):
            continue
        if key == "registration" and isinstance(item, str):
            out[key] = item.lower()
            continue
        out[key] = _strip_descriptions(item)
    verb = out.get("verb")
    if isinstance(verb, dict):
        out["verb"] = {k: v for k, v in verb.items() if k != "display"}
    members = out.get("member")
    if isinstance(members, list):
        out["member"] = sorted(members, key=lambda m: orjson.dumps(m, option=orjson.OPT_SORT_KEYS))
    return out


def first_difference(a: Any, b: Any, path: str) -> str | None:
    """The JSON path of the first place ``a`` and ``b`` differ, or None when equal.

    ``id`` may be missing on either side (an LRS assigns it), as may ``timestamp``.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in ("id", "timestamp") and path == "$" and (key not in a or key not in b):
                continue
            if key not in a or key not in b:
                return f"{path}.{key}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return None if type(a) is type(b) and a == b else path
    return None if a == b else path
