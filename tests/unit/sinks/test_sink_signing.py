"""Webhook signatures: what skillstream sends and what a receiver accepts."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from sinks.signing import InvalidSignatureError, signature, signature_header, verify

SECRET = "whsec-test-1"
BODY = b'{"specversion":"1.0","id":"abc"}'
T = 1_780_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, T, BODY) == expected
    assert signature_header(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_signed_request_verifies_and_yields_its_timestamp() -> None:
    assert verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=T + 10) == T


@pytest.mark.parametrize(
    ("secret", "body", "reason"),
    [
        ("another-secret", BODY, "does not match"),
        (SECRET, BODY + b" ", "does not match"),
        (SECRET, BODY.replace(b"abc", b"abd"), "does not match"),
    ],
)
def test_a_changed_body_or_a_wrong_secret_is_refused(secret: str, body: bytes, reason: str) -> None:
    with pytest.raises(InvalidSignatureError, match=reason):
        verify(secret, signature_header(SECRET, T, BODY), body, now=T)


@pytest.mark.parametrize("skew", [-301, 301, 100_000])
def test_a_timestamp_outside_the_tolerance_is_refused(skew: int) -> None:
    with pytest.raises(InvalidSignatureError, match="tolerance"):
        verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=T + skew)


def test_the_tolerance_edge_is_accepted() -> None:
    assert verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=T + 300) == T


def test_the_timestamp_is_signed_too() -> None:
    forged = signature_header(SECRET, T, BODY).replace(f"t={T}", f"t={T + 60}")
    with pytest.raises(InvalidSignatureError, match="does not match"):
        verify(SECRET, forged, BODY, now=T + 60)


def test_one_matching_v1_among_several_is_enough() -> None:
    good = signature(SECRET, T, BODY)
    header = f"t={T},v1={'0' * 64},v1={good}"
    assert verify(SECRET, header, BODY, now=T) == T


@pytest.mark.parametrize(
    "header", [None, "", "v1=abc", f"t={T}", "t=soon,v1=abc", f"t={T},v2=abc", "garbage"]
)
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(SECRET, header, BODY, now=T)


def test_a_bytes_secret_signs_like_its_utf8_text() -> None:
    assert signature("sécret", T, BODY) == signature("sécret".encode(), T, BODY)
