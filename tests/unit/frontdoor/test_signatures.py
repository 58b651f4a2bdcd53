"""Signed statements: the JWS part is decoded, compared with the statement and verified."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from typing import Any

import orjson
import pytest
from frontdoor_builders import SIGNATURE_USAGE, multipart, statement

from skillstream.frontdoor.problems import Rejected
from skillstream.frontdoor.signatures import check_signature, first_difference
from skillstream.frontdoor.statements import accept

cryptography = pytest.importorskip("cryptography")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SECRET = b"frontdoor-test-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lms.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey, header: dict[str, Any]) -> bytes:
    head = b64url(orjson.dumps(header))
    body = b64url(orjson.dumps(payload))
    algorithm = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}
    digest = algorithm.get(header.get("alg", ""), hashes.SHA256())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), digest)
    return f"{head}.{body}.{b64url(signature)}".encode()


def signed_request(
    original: dict[str, Any], jws: bytes, sent: dict[str, Any] | None = None
) -> tuple[bytes, str]:
    import hashlib

    statement_sent = copy.deepcopy(sent if sent is not None else original)
    statement_sent["attachments"] = [
        {
            "usageType": SIGNATURE_USAGE,
            "display": {"en-US": "signature"},
            "contentType": "application/octet-stream",
            "length": len(jws),
            "sha2": hashlib.sha256(jws).hexdigest(),
        }
    ]
    return multipart(statement_sent, [jws])


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_signed_statement_with_x5c_is_accepted(
    key: rsa.RSAPrivateKey, certificate: str, alg: str
) -> None:
    original = statement(id="4b0ba27e-9e85-4a57-9c3e-1f1f2b6f3a10")
    jws = sign(original, key, {"alg": alg, "x5c": [certificate]})
    body, content_type = signed_request(original, jws)
    assert accept(body, content_type, "2.0.0", secret=SECRET).ids


def test_signed_statement_without_x5c_is_accepted_on_its_form(key: rsa.RSAPrivateKey) -> None:
    original = statement()
    body, content_type = signed_request(original, sign(original, key, {"alg": "RS256"}))
    assert accept(body, content_type, "2.0.0", secret=SECRET).ids


def refused(body: bytes, content_type: str) -> Rejected:
    with pytest.raises(Rejected) as caught:
        accept(body, content_type, "2.0.0", secret=SECRET)
    return caught.value


def test_statement_changed_after_signing_is_refused(
    key: rsa.RSAPrivateKey, certificate: str
) -> None:
    original = statement()
    jws = sign(original, key, {"alg": "RS256", "x5c": [certificate]})
    tampered = statement(result={"success": True})
    rejected = refused(*signed_request(original, jws, sent=tampered))
    assert [(p.index, p.path, p.code) for p in rejected.problems] == [
        (0, "$.attachments[0]", "signature")
    ]
    assert "$.result" in rejected.problems[0].message


def test_signature_from_another_key_is_refused(key: rsa.RSAPrivateKey, certificate: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    original = statement()
    jws = sign(original, other, {"alg": "RS256", "x5c": [certificate]})
    assert "does not verify" in refused(*signed_request(original, jws)).problems[0].message


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256"])
def test_other_algorithms_are_refused(key: rsa.RSAPrivateKey, alg: str) -> None:
    original = statement()
    jws = sign(original, key, {"alg": alg})
    assert "RS256, RS384 or RS512" in refused(*signed_request(original, jws)).problems[0].message


@pytest.mark.parametrize(
    "jws",
    [b"not a jws", b"a.b", b"!!!.???.***", b"\xff\xfe.x.y"],
    ids=["text", "two", "b64", "bytes"],
)
def test_malformed_jws_is_refused(jws: bytes) -> None:
    rejected = refused(*signed_request(statement(), jws))
    assert rejected.problems[0].code == "signature"


def test_signature_attachment_with_file_url_but_no_part_is_refused() -> None:
    sent = statement(
        attachments=[
            {
                "usageType": SIGNATURE_USAGE,
                "display": {"en-US": "signature"},
                "contentType": "application/octet-stream",
                "length": 10,
                "sha2": "a" * 64,
                "fileUrl": "https://files.example.com/sig",
            }
        ]
    )
    with pytest.raises(Rejected) as caught:
        accept(orjson.dumps(sent), "application/json", "2.0.0", secret=SECRET)
    assert caught.value.problems[0].code == "signature"


def test_equivalence_ignores_what_a_receiver_may_change(key: rsa.RSAPrivateKey) -> None:
    original = statement(
        id="4B0BA27E-9E85-4A57-9C3E-1F1F2B6F3A10", timestamp="2026-03-02T10:00:00+01:00"
    )
    sent = statement(
        id="4b0ba27e-9e85-4a57-9c3e-1f1f2b6f3a10",
        timestamp="2026-03-02T09:00:00.000Z",
        verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
        object={"objectType": "Activity", "id": "https://lms.example.com/courses/kafka-101"},
        authority={"objectType": "Agent", "mbox": "mailto:lms@example.com"},
    )
    assert check_signature(sent, sign(original, key, {"alg": "RS256"})) == []


def test_first_difference_paths() -> None:
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}, "$") == "$.a[1].b"
    assert first_difference({"a": True}, {"a": 1}, "$") == "$.a"
    assert first_difference({"a": 1}, {"a": 1.0}, "$") is None
    assert first_difference({"a": [1]}, {"a": [1, 2]}, "$") == "$.a"
