"""xAPI multipart/mixed requests: parts, hashes, and attachments matched to their data."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from frontdoor_builders import attachment, multipart, statement

from skillstream.frontdoor.multipart import boundary_of, read_multipart, split_parts
from skillstream.frontdoor.problems import Rejected
from skillstream.frontdoor.statements import Accepted, accept

SECRET = b"frontdoor-test-secret"
PDF = b"%PDF-1.7 certificate of completion \x00\x01\x02\r\n--not-a-boundary\r\n"


def post(body: bytes, content_type: str, version: str = "2.0.0") -> Accepted:
    return accept(body, content_type, version, secret=SECRET)


def refused(body: bytes, content_type: str) -> Rejected:
    with pytest.raises(Rejected) as caught:
        post(body, content_type)
    return caught.value


def with_attachments(*attachments: dict[str, Any]) -> dict[str, Any]:
    return statement(attachments=list(attachments))


def test_attachment_with_its_part_is_accepted_and_bytes_are_not_forwarded() -> None:
    body, content_type = multipart(with_attachments(attachment(PDF)), [PDF])
    accepted = post(body, content_type)
    assert len(accepted.records) == 1
    value = orjson.loads(accepted.records[0].value)
    assert value["attachments"][0]["sha2"] == hashlib.sha256(PDF).hexdigest()
    assert PDF not in accepted.records[0].value


def test_a_batch_sharing_one_part() -> None:
    one = with_attachments(attachment(PDF))
    body, content_type = multipart(
        [one, statement(actor={"mbox": "mailto:b@example.com"}, attachments=[attachment(PDF)])],
        [PDF],
    )
    assert len(post(body, content_type).ids) == 2


@pytest.mark.parametrize("algorithm", ["sha224", "sha384", "sha512"])
def test_other_sha2_digests_match(algorithm: str) -> None:
    meta = attachment(PDF)
    meta["sha2"] = hashlib.new(algorithm, PDF).hexdigest()
    digest = meta["sha2"]
    body, content_type = multipart(
        with_attachments(meta), [PDF], part_headers=[{"X-Experience-API-Hash": digest}]
    )
    assert post(body, content_type).ids


def test_attachment_without_file_url_or_part_is_refused() -> None:
    other = b"some other bytes"
    body, content_type = multipart(with_attachments(attachment(PDF), attachment(other)), [PDF])
    rejected = refused(body, content_type)
    assert [(p.index, p.path) for p in rejected.problems] == [(0, "$.attachments[1]")]


def test_json_request_with_attachment_data_missing_is_refused() -> None:
    raw = orjson.dumps(with_attachments(attachment(PDF)))
    with pytest.raises(Rejected) as caught:
        post(raw, "application/json")
    assert caught.value.problems[0].path == "$.attachments[0]"


def test_json_request_with_file_url_attachment_is_accepted() -> None:
    raw = orjson.dumps(
        with_attachments(attachment(PDF, file_url="https://files.example.com/c.pdf"))
    )
    assert post(raw, "application/json").ids


def test_part_without_hash_header_is_refused() -> None:
    body, content_type = multipart(
        with_attachments(attachment(PDF)), [PDF], part_headers=[{"X-Experience-API-Hash": ""}]
    )
    rejected = refused(body, content_type)
    assert "X-Experience-API-Hash" in rejected.error
    assert rejected.problems[0].code == "multipart"


def test_part_whose_hash_is_not_its_content_is_refused() -> None:
    wrong = hashlib.sha256(b"else").hexdigest()
    body, content_type = multipart(
        with_attachments(attachment(PDF)), [PDF], part_headers=[{"X-Experience-API-Hash": wrong}]
    )
    assert "is not the SHA-2" in refused(body, content_type).error


def test_part_with_base64_transfer_encoding_is_refused() -> None:
    body, content_type = multipart(
        with_attachments(attachment(PDF)),
        [PDF],
        part_headers=[{"Content-Transfer-Encoding": "base64"}],
    )
    assert "binary" in refused(body, content_type).error


def test_part_that_no_attachment_describes_is_refused() -> None:
    body, content_type = multipart(statement(), [PDF])
    rejected = refused(body, content_type)
    assert [(p.index, p.code) for p in rejected.problems] == [(None, "attachment")]
    assert "part 1" in rejected.problems[0].message


def test_first_part_must_be_json() -> None:
    body, content_type = multipart(statement(), [], first_type="text/plain")
    assert "application/json" in refused(body, content_type).error


def test_missing_boundary_and_missing_closing_boundary() -> None:
    body, _ = multipart(statement(), [])
    assert "boundary" in refused(body, "multipart/mixed").error
    truncated = body[: body.rindex(b"--skillstream-test-boundary--")]
    assert (
        "closing boundary"
        in refused(truncated, 'multipart/mixed; boundary="skillstream-test-boundary"').error
    )


def test_boundary_parsing() -> None:
    assert boundary_of('multipart/mixed; boundary="a b"') == "a b"
    assert boundary_of("multipart/mixed;boundary=abc;charset=x") == "abc"
    assert boundary_of("multipart/mixed") is None


def test_preamble_epilogue_and_empty_headers() -> None:
    body = b"preamble\r\n--b\r\n\r\nfirst\r\n--b\r\nA: 1\r\n\r\nsecond\r\n--b--\r\nepilogue"
    assert split_parts(body, "b") == [({}, b"first"), ({"a": "1"}, b"second")]


def test_read_multipart_returns_statements_and_digests() -> None:
    body, content_type = multipart([statement()], [PDF])
    raw, parts = read_multipart(body, content_type)
    assert orjson.loads(raw) == [statement()]
    assert hashlib.sha512(PDF).hexdigest() in parts[0].digests
    assert parts[0].content == PDF
