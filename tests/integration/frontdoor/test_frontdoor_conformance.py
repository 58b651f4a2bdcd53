"""Every xAPI conformance case, POSTed to the real front door: 200 and 400 as an LRS must.

The cases are ``../shared/xapi-conformance/xapi-1.0.3.jsonl`` and
``xapi-2.0.jsonl`` (or ``SKILLSTREAM_XAPI_CONFORMANCE_DIR``), read in place;
the tests skip with the reason when they are absent. Each case is one request
with ``X-Experience-API-Version`` 1.0.3 or 2.0.0 to match its file, against
one uvicorn server on the real broker for the whole module.

``attachments.js`` cases are sent as the suite sends them: ``multipart/mixed``
with the attachment's data as a part (its bytes are known from the suite; the
hash is checked here). A 400 must come from the statement itself (a problem
at index 0), not from how the request was put together, so a refusal for the
wrong reason fails the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from frontdoor_builders import PASSWORD, USERNAME, multipart
from frontdoor_server import RunningServer, front_settings

from schemas.topology import Topics
from skillstream.frontdoor import create_app
from skillstream.settings import load_settings
from skillstream.topics import create_topics
from tools.broker import Broker

REPO_ROOT = Path(__file__).resolve().parents[3]
CASE_FILES = (("xapi-1.0.3.jsonl", "1.0.3"), ("xapi-2.0.jsonl", "2.0.0"))
SUITE_ATTACHMENT = b"here is a simple attachment"
"""The attachment data of the suite's attachments.js cases (its sha2 is in each case)."""
KNOWN_DATA = {hashlib.sha256(SUITE_ATTACHMENT).hexdigest(): SUITE_ATTACHMENT}


def conformance_dir() -> Path:
    override = os.environ.get("SKILLSTREAM_XAPI_CONFORMANCE_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "xapi-conformance"


def _cases() -> list[Any]:
    params: list[Any] = []
    for file_name, header in CASE_FILES:
        path = conformance_dir() / file_name
        if not path.is_file():
            reason = (
                f"xAPI conformance cases not found at {path}; "
                "set SKILLSTREAM_XAPI_CONFORMANCE_DIR to the folder holding them"
            )
            params.append(
                pytest.param(None, header, id=f"{file_name}:absent", marks=pytest.mark.skip(reason))
            )
            continue
        for line, text in enumerate(path.read_bytes().splitlines(), start=1):
            if text.strip():
                case = orjson.loads(text)
                title = re.sub(r"\s+", " ", str(case.get("case", "")))
                params.append(pytest.param(case, header, id=f"{file_name}:{line}:{title[:60]}"))
    return params


@pytest.fixture(scope="module")
def conformance_server(
    broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    topics = Topics(partitions=1).prefixed(f"t{uuid.uuid4().hex[:10]}.")
    settings = load_settings(
        kafka={"bootstrap_servers": broker.bootstrap},
        topics=topics.model_dump(),
        database_url=f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'db.sqlite'}",
    )
    asyncio.run(create_topics(broker.bootstrap, topics))
    running = RunningServer(create_app(front_settings(settings), publish_timeout_s=15))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(conformance_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=conformance_server.url, auth=(USERNAME, PASSWORD)) as client:
        yield client


def _request(case: dict[str, Any], header: str) -> tuple[bytes, dict[str, str]]:
    statement = case["statement"]
    headers = {"X-Experience-API-Version": header}
    if case["file"] == "attachments.js":
        attachments = statement.get("attachments") if isinstance(statement, dict) else None
        hashes = [a.get("sha2") for a in attachments or [] if isinstance(a, dict)]
        parts = list(dict.fromkeys(KNOWN_DATA[h] for h in hashes if h in KNOWN_DATA))
        body, content_type = multipart(statement, parts)
        return body, {**headers, "Content-Type": content_type}
    return orjson.dumps(statement), {**headers, "Content-Type": "application/json"}


@pytest.mark.parametrize(("case", "header"), _cases())
def test_conformance_case_over_http(http: httpx.Client, case: dict[str, Any], header: str) -> None:
    body, headers = _request(case, header)
    response = http.post("/xapi/statements", content=body, headers=headers)
    explain = (
        f"{case['file']}: {case['case']}\nrequirement: {case['requirement']}\n"
        f"expected {case['expect']}, got {response.status_code}: {response.text[:2000]}"
    )
    assert response.status_code == case["expect"], explain
    assert response.headers["x-experience-api-version"] in ("1.0.3", "2.0.0")
    if case["expect"] == 400:
        problems = response.json()["problems"]
        assert any(p["index"] == 0 for p in problems), explain
    else:
        ids = response.json()
        assert len(ids) == 1
        given = case["statement"].get("id")
        if given is not None:
            assert ids == [given]
