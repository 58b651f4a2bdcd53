"""Bounded work per request, bounded metrics, UTF-8 credentials and a log nobody can forge
(issue 11, items 4a, 4c and 5): each test feeds the input the tester used."""

from __future__ import annotations

import base64
import logging
import random
import re
import string
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from frontdoor_builders import PASSWORD, USERNAME, V2, multipart, statement
from frontdoor_fakes import FakePublisher, problems_of

from skillstream.frontdoor import create_app, statements
from skillstream.frontdoor.access import logged_path, printable
from skillstream.frontdoor.problems import MAX_PROBLEMS
from skillstream.frontdoor.statements import MAX_STATEMENTS, accept
from skillstream.settings import Settings

JSON = {**V2, "Content-Type": "application/json"}


def empty_objects(count: int) -> bytes:
    """``[{},{},…]``: the body of the tester's reproduction."""
    return b"[" + b",".join([b"{}"] * count) + b"]"


@pytest.fixture
def no_validation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts statements handed to the validator (it must not see refused batches)."""
    seen: list[int] = []
    real = statements.validate_statement

    def counting(statement: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) > MAX_STATEMENTS:
            raise AssertionError("more statements validated than a request may hold")
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(statements, "validate_statement", counting)
    return seen


@pytest.fixture
async def full_size(
    front_settings: Settings, publisher: FakePublisher
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its production limits (16 MiB bodies, 10,000 statements)."""
    app = create_app(front_settings, publisher=publisher)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://frontdoor.test",
        auth=(USERNAME, PASSWORD),
    ) as client:
        yield client


# --- 4a: statements per request, problems per answer, memory ---------------------------------


async def test_two_million_empty_objects_are_413_without_validating_any(
    full_size: httpx.AsyncClient, publisher: FakePublisher, no_validation: list[int]
) -> None:
    body = empty_objects(2_000_000)
    assert 5.5 * 2**20 < len(body) < 6 * 2**20  # the tester's 5.7 MiB
    response = await full_size.post("/xapi/statements", content=body, headers=JSON)
    assert response.status_code == 413
    [problem] = problems_of(response)
    assert problem["code"] == "too_large"
    assert "split the batch" in problem["message"]
    assert len(response.content) < 1024
    assert response.headers["connection"] == "close"
    assert no_validation == []
    assert publisher.calls == []


def test_two_million_empty_objects_take_almost_no_memory(no_validation: list[int]) -> None:
    body = empty_objects(2_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(statements.Rejected) as refused:
            accept(body, "application/json", "2.0.0", secret=b"s" * 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert peak < 1 * 2**20, f"{peak} bytes allocated to refuse it"  # it was 3.7 GB


async def test_one_hundred_thousand_empty_objects_get_a_small_answer(
    full_size: httpx.AsyncClient, no_validation: list[int]
) -> None:
    response = await full_size.post(
        "/xapi/statements", content=empty_objects(100_000), headers=JSON
    )
    assert response.status_code == 413  # it was a 35 MB 400
    [problem] = problems_of(response)
    assert problem["code"] == "too_many_statements"
    assert "100000 statements" in problem["message"]
    assert str(MAX_STATEMENTS) in problem["message"]
    assert len(response.content) < 1024
    assert no_validation == []


async def test_a_full_batch_of_invalid_statements_lists_the_first_problems_only(
    full_size: httpx.AsyncClient,
) -> None:
    def rejected(text: str) -> float:
        line = 'skillstream_statements_rejected_total{reason="required"}'
        found = [ln for ln in text.splitlines() if ln.startswith(line)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    before = rejected((await full_size.get("/metrics")).text)
    response = await full_size.post(
        "/xapi/statements", content=empty_objects(MAX_STATEMENTS), headers=JSON
    )
    assert response.status_code == 400
    problems = problems_of(response)
    assert len(problems) == MAX_PROBLEMS + 1
    *listed, more = problems
    assert {p["code"] for p in listed} == {"required"}
    assert more["code"] == "truncated"
    assert more["index"] is None
    assert more["path"] is None
    omitted = int(re.match(r"(\d+) more problem", more["message"]).group(1))  # type: ignore[union-attr]
    total = MAX_PROBLEMS + omitted
    error = response.json()["error"]
    assert f"{MAX_STATEMENTS} of {MAX_STATEMENTS} statement(s) invalid" in error
    assert f"the first {MAX_PROBLEMS} of {total} problems are listed" in error
    assert len(response.content) < 40_000
    after = rejected((await full_size.get("/metrics")).text)
    assert after - before == total, "every problem is counted, listed or not"


async def test_the_statement_limit_is_a_parameter(
    front_settings: Settings, publisher: FakePublisher, no_validation: list[int]
) -> None:
    app = create_app(front_settings, publisher=publisher, max_statements=3)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=(USERNAME, PASSWORD)
    ) as client:
        over = await client.post("/xapi/statements", json=[statement()] * 4, headers=V2)
        at = await client.post(
            "/xapi/statements",
            json=[statement(timestamp=f"2026-03-02T09:00:0{i}.000Z") for i in range(3)],
            headers=V2,
        )
        parts, content_type = multipart([statement()], [b"a", b"b", b"c", b"d"])
        many_parts = await client.post(
            "/xapi/statements", content=parts, headers={**V2, "Content-Type": content_type}
        )
    assert over.status_code == 413
    assert problems_of(over)[0]["code"] == "too_many_statements"
    assert at.status_code == 200, at.text
    assert len(no_validation) == 3
    assert many_parts.status_code == 413
    assert "4 attachment parts" in problems_of(many_parts)[0]["message"]


async def test_many_bad_multipart_parts_are_listed_up_to_the_cap(
    client: httpx.AsyncClient,
) -> None:
    data = [f"part {i}".encode() for i in range(MAX_PROBLEMS + 50)]
    body, content_type = multipart(
        [statement()], data, part_headers=[{"X-Experience-API-Hash": "0" * 64}] * len(data)
    )
    response = await client.post(
        "/xapi/statements", content=body, headers={**V2, "Content-Type": content_type}
    )
    assert response.status_code == 400
    problems = problems_of(response)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1]["code"] == "truncated"
    assert problems[-1]["message"].startswith("50 more problem(s)")


def test_a_statement_as_produced_holds_no_spare_buffer() -> None:
    accepted = accept(
        orjson.dumps([statement(result={"response": "x" * 1200})] * 1),
        "application/json",
        "2.0.0",
        secret=b"s" * 16,
    )
    [record] = accepted.records
    tracemalloc.start()
    try:
        copy = accept(
            orjson.dumps([statement(result={"response": "y" * 1200})]),
            "application/json",
            "2.0.0",
            secret=b"s" * 16,
        )
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(copy.records[0].value) == len(record.value)
    assert held < 4 * len(record.value), "orjson's 16 KiB growth buffer is not kept"


# --- 4c: /metrics stays bounded whatever the method and path -----------------------------------


async def test_five_thousand_made_up_requests_leave_metrics_bounded(
    client: httpx.AsyncClient, front_settings: Settings
) -> None:
    client.auth = None  # type: ignore[assignment]
    rng = random.Random(11)

    def word(n: int, letters: str = string.ascii_uppercase) -> str:
        return "".join(rng.choice(letters) for _ in range(n))

    paths = ["/{}", "/xapi/statements", "/learners/lrn_{}/profile", "/xapi/{}", "/healthz"]
    start = (await client.get("/metrics")).text
    for path in paths:  # the first odd request of each kind adds its few series
        await client.request("BREW", path.format("warmup"))
    before = (await client.get("/metrics")).text
    methods = set()
    for _ in range(5000):
        method = word(rng.randint(3, 12))
        methods.add(method)
        path = rng.choice(paths).format(word(10, string.ascii_lowercase))
        await client.request(method, path)
    after = (await client.get("/metrics")).text

    def series(text: str) -> set[str]:
        return {
            ln.rsplit(" ", 1)[0] for ln in text.splitlines() if ln.startswith("skillstream_http")
        }

    assert series(after) == series(before), "5,000 requests added no series"
    assert len(after) - len(before) < 1024, f"/metrics grew by {len(after) - len(before)} bytes"
    assert len(after) - len(start) < 8192, "all these requests cost a few series at most"
    assert 'method="other"' in after
    assert not any(f'method="{m}"' in after for m in methods - {"GET", "PUT", "POST"})
    templates = {
        getattr(r, "path", "") for r in create_app(front_settings, publisher=FakePublisher()).routes
    }
    assert set(re.findall(r'route="([^"]*)"', after)) <= templates | {"unmatched"}


# --- 5: UTF-8 credentials, an access log nobody can forge -------------------------------------


NON_ASCII_PASSWORD = "pässwörd-ü-ñ-日本語"


def basic(user: str, password: str, encoding: str = "utf-8") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("user", ["lms", "lms-ünïcode"])
async def test_a_non_ascii_password_logs_in(
    front_settings: Settings, publisher: FakePublisher, user: str
) -> None:
    settings = front_settings.model_copy(
        update={"http_username": user, "http_password": NON_ASCII_PASSWORD}
    )
    settings = Settings.model_validate(
        settings.model_dump() | {"http_password": NON_ASCII_PASSWORD}
    )
    app = create_app(settings, publisher=publisher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        good = await c.post(
            "/xapi/statements", json=statement(), headers={**V2, **basic(user, NON_ASCII_PASSWORD)}
        )
        wrong = await c.post(
            "/xapi/statements", json=statement(), headers={**V2, **basic(user, "pässwörd-ü-ñ")}
        )
        not_utf8 = await c.post(
            "/xapi/statements",
            json=statement(),
            headers={**V2, **basic("lms", "pässwörd-ü-ñ", "latin-1")},
        )
    assert good.status_code == 200, good.text
    assert wrong.status_code == 401
    assert not_utf8.status_code == 401
    assert 'charset="UTF-8"' in not_utf8.headers["www-authenticate"]


@pytest.mark.parametrize(
    "raw_path",
    [
        "/xapi/about%0a2026-01-01 00:00:00,000 INFO    skillstream.frontdoor.access: GET /x 200",
        "/xapi/statements%0d%0aforged",
        "/x%1b[2J%e2%80%a8%c2%85",
    ],
)
async def test_control_characters_in_the_path_cannot_forge_a_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, raw_path: str
) -> None:
    caplog.set_level(logging.INFO, logger="skillstream.frontdoor.access")
    await client.get(raw_path)
    [record] = [r for r in caplog.records if r.name == "skillstream.frontdoor.access"]
    line = record.getMessage()
    assert all(ch.isprintable() for ch in line), repr(line)
    assert all(ch.isprintable() for ch in record.path)  # type: ignore[attr-defined]
    assert "%0A" in line or "%1B" in line


def test_printable_escapes_what_could_break_a_line() -> None:
    assert printable("/xapi/about") == "/xapi/about"
    assert printable("/a\nb\rc\x00d\x7fe") == "/a%0Ab%0Dc%00d%7Fe"
    assert printable("/a\u2028b\x85c\u200bd") == "/a%E2%80%A8b%C2%85c%E2%80%8Bd"
    assert printable("/ünïcode/日本") == "/ünïcode/日本"
    assert logged_path("/learners/ada@example.com\n/profile") == "/learners/(masked)/profile"
