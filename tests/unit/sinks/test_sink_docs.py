"""The receiver in docs/sinks.md works: it accepts what skillstream signs and acts once per id."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sink_factories import milestone

from sinks.signing import signature_header

DOC = Path(__file__).resolve().parents[3] / "docs" / "sinks.md"


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Any]]]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    [code] = [b for b in blocks if "A skillstream webhook receiver" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "docs_receiver"}
    exec(compile(code, str(DOC), "exec"), namespace)
    handled: list[Any] = []
    namespace["handle"] = handled.append
    server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handled
    finally:
        server.shutdown()
        server.server_close()
        namespace["db"].close()


def test_the_documented_receiver_verifies_and_acts_once_per_id(
    receiver: tuple[str, list[Any]],
) -> None:
    url, handled = receiver
    secret = b"the secret configured for this subscriber"
    body = milestone().model_dump_json().encode()

    def post(signature: str) -> int:
        headers = {
            "Skillstream-Signature": signature,
            "Content-Type": "application/cloudevents+json",
        }
        return httpx.post(url, content=body, headers=headers).status_code

    now = int(time.time())
    assert post(signature_header(secret, now, body)) == 204
    assert post(signature_header(secret, now + 1, body)) == 204  # a redelivery
    assert post(signature_header(b"wrong secret", now, body)) == 401
    assert post(signature_header(secret, now - 3600, body)) == 401

    assert [m["id"] for m in handled] == [milestone().id]


def test_the_readme_verify_function_accepts_what_skillstream_signs() -> None:
    readme = DOC.parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    [code] = [b for b in blocks if "def verify(" in b]
    namespace: dict[str, Any] = {"__name__": "readme_verify"}
    exec(compile(code, str(readme), "exec"), namespace)
    verify = namespace["verify"]
    secret, body, now = b"s3cret", milestone().model_dump_json().encode(), int(time.time())
    assert verify(secret, signature_header(secret, now, body), body)
    assert not verify(secret, signature_header(b"other", now, body), body)
    assert not verify(secret, signature_header(secret, now - 3600, body), body)
    assert not verify(secret, signature_header(secret, now, body), body + b" ")
