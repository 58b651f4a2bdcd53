"""The front door over HTTP (httpx's ASGI transport, a fake publisher): auth, headers, answers."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from frontdoor_builders import PASSWORD, USERNAME, V1, V2, multipart, new_id, statement
from frontdoor_fakes import FakePublisher, problems_of

from schemas.identity import learner_keys
from skillstream.errors import ServiceUnavailable
from skillstream.frontdoor import create_app
from skillstream.frontdoor.queries import LearnerStore
from skillstream.settings import Settings

ADA = '{"mbox": "mailto:ada@example.com"}'

# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, (USERNAME, "wrong"), ("someone", PASSWORD), (USERNAME.upper(), PASSWORD), ("", "")],
    ids=["none", "password", "user", "case", "empty"],
)
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/xapi/statements"),
        ("PUT", f"/xapi/statements?statementId={new_id()}"),
        ("GET", "/learners/lrn_x/profile"),
        ("GET", "/learners/lrn_x/milestones"),
        ("GET", "/learners/profile?agent=" + quote(ADA)),
        ("GET", "/learners/milestones?agent=" + quote(ADA)),
        ("GET", "/learners/profile?agent=" + quote('{"mbox": "nonsense"}')),
    ],
)
async def test_protected_endpoints_need_the_lms_credential(
    client: httpx.AsyncClient,
    publisher: FakePublisher,
    auth: tuple[str, str] | None,
    method: str,
    url: str,
) -> None:
    client.auth = httpx.BasicAuth(*auth) if auth else None  # type: ignore[assignment]
    response = await client.request(method, url, json=statement(), headers=V2)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="skillstream", charset="UTF-8"'
    problems_of(response)
    assert publisher.calls == []


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(), "Bearer abc"]
)
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    client.auth = None  # type: ignore[assignment]
    response = await client.post(
        "/xapi/statements", json=statement(), headers={**V2, "Authorization": header}
    )
    assert response.status_code == 401
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/xapi/about", "/openapi.json", "/docs"])
async def test_open_endpoints(client: httpx.AsyncClient, path: str) -> None:
    client.auth = None  # type: ignore[assignment]
    assert (await client.get(path)).status_code in (200, 503)  # healthz: no tables yet


# --- POST and PUT -------------------------------------------------------------------------------


async def test_post_one_statement_answers_its_id_after_publishing(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    response = await client.post("/xapi/statements", json=statement(), headers=V2)
    assert response.status_code == 200
    ids = response.json()
    assert len(ids) == 1
    assert [r.statement_id for r in publisher.records] == ids
    assert publisher.calls[0][1] == "2.0.0"
    assert response.headers["x-experience-api-version"] == "2.0.0"


async def test_post_batch_answers_ids_in_order(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    given = [new_id() for _ in range(5)]
    response = await client.post(
        "/xapi/statements", json=[statement(id=i) for i in given], headers=V1
    )
    assert response.json() == given
    assert response.headers["x-experience-api-version"] == "1.0.3"
    assert publisher.calls[0][1] == "1.0.3"
    assert [orjson.loads(r.value)["version"] for r in publisher.records] == ["1.0.0"] * 5


async def test_invalid_batch_is_400_with_every_problem_and_nothing_published(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    body = [statement(), statement(verb={"id": "nope"}), statement(actor=None, object=None)]
    response = await client.post("/xapi/statements", json=body, headers=V2)
    assert response.status_code == 400
    problems = problems_of(response)
    assert {p["index"] for p in problems} == {1, 2}
    assert {p["path"] for p in problems if p["index"] == 2} == {"$.actor", "$.object"}
    assert publisher.calls == []
    assert response.headers["x-experience-api-version"] == "2.0.0"


async def test_duplicate_ids_in_a_batch_are_400(client: httpx.AsyncClient) -> None:
    same = new_id()
    response = await client.post(
        "/xapi/statements", json=[statement(id=same), statement(id=same)], headers=V2
    )
    assert response.status_code == 400
    assert [p["code"] for p in problems_of(response)] == ["duplicate_id"]


@pytest.mark.parametrize("version", [None, "0.95", "3.0.0"])
async def test_version_header_rules(client: httpx.AsyncClient, version: str | None) -> None:
    headers = {} if version is None else {"X-Experience-API-Version": version}
    response = await client.post("/xapi/statements", json=statement(), headers=headers)
    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json()["error"]
    assert response.headers["x-experience-api-version"] == "2.0.0"


async def test_put_stores_under_statement_id(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    sid = new_id()
    response = await client.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=V2)
    assert response.status_code == 204
    assert response.content == b""
    assert publisher.records[0].statement_id == sid


async def test_put_rules(client: httpx.AsyncClient, publisher: FakePublisher) -> None:
    missing = await client.put("/xapi/statements", json=statement(), headers=V2)
    assert missing.status_code == 400
    assert "statementId" in missing.json()["error"]
    other = await client.put(
        f"/xapi/statements?statementId={new_id()}", json=statement(id=new_id()), headers=V2
    )
    assert other.status_code == 400
    assert problems_of(other)[0]["path"] == "$.id"
    assert publisher.calls == []


async def test_multipart_post(client: httpx.AsyncClient, publisher: FakePublisher) -> None:
    data = b"certificate bytes"
    import hashlib

    meta = {
        "usageType": "https://w3id.org/skillstream/attachments/certificate",
        "display": {"en-US": "certificate"},
        "contentType": "text/plain",
        "length": len(data),
        "sha2": hashlib.sha256(data).hexdigest(),
    }
    body, content_type = multipart([statement(attachments=[meta])], [data])
    response = await client.post(
        "/xapi/statements", content=body, headers={**V2, "Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert len(publisher.records) == 1


async def test_kafka_unavailable_is_503_naming_the_broker(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    publisher.failure = ServiceUnavailable(
        "Kafka at 10.1.2.3:9092", "2 of 2 statement(s) not acknowledged", "is it running?"
    )
    response = await client.post("/xapi/statements", json=[statement(), statement()], headers=V2)
    assert response.status_code == 503
    error = response.json()["error"]
    assert "10.1.2.3:9092" in error
    assert "Traceback" not in response.text


async def test_body_over_the_limit_is_413(
    front_settings: Settings, publisher: FakePublisher
) -> None:
    app = create_app(front_settings, publisher=publisher, max_body_bytes=1000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=(USERNAME, PASSWORD)
    ) as c:
        response = await c.post("/xapi/statements", json=[statement()] * 10, headers=V2)
    assert response.status_code == 413
    assert problems_of(response)[0]["code"] == "too_large"


async def test_large_batches_are_validated_off_the_event_loop(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    batch = [statement(actor={"mbox": f"mailto:l{i}@example.com"}) for i in range(1000)]
    response = await client.post("/xapi/statements", json=batch, headers=V2)
    assert response.status_code == 200
    assert len(response.json()) == 1000


# --- logs, metrics, docs, health ---------------------------------------------------------------


async def test_one_structured_log_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="skillstream.frontdoor.access")
    await client.post("/xapi/statements", json=[statement(), statement()], headers=V2)
    await client.get("/healthz")
    lines = [r for r in caplog.records if r.name == "skillstream.frontdoor.access"]
    assert len(lines) == 2
    post, health = lines
    assert post.method == "POST"  # type: ignore[attr-defined]
    assert post.path == "/xapi/statements"  # type: ignore[attr-defined]
    assert post.status == 200  # type: ignore[attr-defined]
    assert post.statements == 2  # type: ignore[attr-defined]
    assert post.duration_ms >= 0  # type: ignore[attr-defined]
    assert "statements=2" in post.getMessage()
    assert not hasattr(health, "statements")


async def test_metrics_count_statements_and_requests(client: httpx.AsyncClient) -> None:
    def value(text: str, line_start: str) -> float:
        for line in text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    received = 'skillstream_statements_received_total{source="http"}'
    rejected = 'skillstream_statements_rejected_total{reason="required"}'
    before = (await client.get("/metrics")).text
    await client.post("/xapi/statements", json=[statement(), statement()], headers=V2)
    await client.post("/xapi/statements", json=[statement(verb=None)], headers=V2)
    after = (await client.get("/metrics")).text
    assert value(after, received) - value(before, received) == 3
    assert value(after, rejected) - value(before, rejected) == 1
    assert 'route="/xapi/statements"' in after
    assert "skillstream_consumer_lag" in after


async def test_openapi_documents_the_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"/xapi/statements", "/learners/{key}/profile", "/learners/{key}/milestones"} <= set(
        paths
    )
    post = paths["/xapi/statements"]["post"]
    assert {"application/json", "multipart/mixed"} <= set(post["requestBody"]["content"])
    assert "X-Experience-API-Version" in {p["name"] for p in post["parameters"]}
    assert "HTTPBasic" in spec["components"]["securitySchemes"]


async def test_healthz_names_the_database_that_failed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["kafka"]["ok"] is True
    assert body["database"]["ok"] is False
    assert "frontdoor.db" in body["database"]["detail"]
    assert "skillstream db upgrade" in body["database"]["detail"]


async def test_healthz_names_kafka_when_it_fails(
    client: httpx.AsyncClient, publisher: FakePublisher
) -> None:
    publisher.failure = ServiceUnavailable("Kafka at 10.9.9.9:9092", "no metadata within 2s")
    body = (await client.get("/healthz")).json()
    assert body["status"] == "unavailable"
    assert "10.9.9.9:9092" in body["kafka"]["detail"]


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    problems_of(response)


async def test_about_is_open_and_lists_versions(client: httpx.AsyncClient) -> None:
    client.auth = None  # type: ignore[assignment]
    response = await client.get("/xapi/about")
    assert response.json()["version"] == ["1.0.3", "2.0.0"]
    assert response.headers["x-experience-api-version"] == "2.0.0"


async def test_lifespan_starts_and_stops_the_publisher(
    front_settings: Settings, publisher: FakePublisher
) -> None:
    app = create_app(front_settings, publisher=publisher)
    async with app.router.lifespan_context(app):
        assert publisher.started == 1
    assert publisher.stopped == 1


# --- learner queries by xAPI agent ----------------------------------------------------------------


class FakeStore(LearnerStore):
    """The SQL sink's tables as a dict: one profile and one milestone per known learner."""

    def __init__(self, known: set[str]) -> None:
        super().__init__("sqlite://")
        self.known = known
        self.asked: list[str] = []

    async def profile(self, learner: str) -> dict[str, Any] | None:
        self.asked.append(learner)
        return {"learner": learner, "statements": 7} if learner in self.known else None

    async def milestones(self, learner: str) -> list[dict[str, Any]]:
        self.asked.append(learner)
        return [{"data": {"learner": learner}}] if learner in self.known else []


SHA1 = hashlib.sha1(b"mailto:ada@example.com").hexdigest()
ACCOUNT = {"account": {"homePage": "https://lms.example.com", "name": "u00042"}}


@pytest.fixture
def ada_key(front_settings: Settings) -> str:
    return learner_keys({"mbox": "mailto:ada@example.com"}, front_settings.learner_secret_bytes)[0]


@pytest.fixture
def store(front_settings: Settings, ada_key: str) -> FakeStore:
    account_key = learner_keys(ACCOUNT, front_settings.learner_secret_bytes)[0]
    return FakeStore({ada_key, account_key})


@pytest.fixture
async def learners(
    front_settings: Settings, publisher: FakePublisher, store: FakeStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(front_settings, publisher=publisher, store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://frontdoor.test",
        auth=(USERNAME, PASSWORD),
    ) as c:
        yield c


@pytest.mark.parametrize(
    "agent",
    [
        {"mbox": "mailto:ada@example.com"},
        {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
        {"mbox_sha1sum": SHA1},
        {"mbox_sha1sum": SHA1.upper()},
    ],
    ids=["mbox", "agent-with-name", "mbox_sha1sum", "mbox_sha1sum-upper"],
)
async def test_queries_by_agent_use_the_key_the_pipeline_derives(
    learners: httpx.AsyncClient, store: FakeStore, ada_key: str, agent: dict[str, Any]
) -> None:
    text = orjson.dumps(agent).decode()
    profile = await learners.get("/learners/profile", params={"agent": text})
    milestones = await learners.get("/learners/milestones", params={"agent": text})
    assert profile.status_code == 200, profile.text
    assert profile.json() == {"learner": ada_key, "statements": 7}
    assert milestones.json() == [{"data": {"learner": ada_key}}]
    by_key = await learners.get(f"/learners/{ada_key}/profile")
    assert by_key.json() == profile.json()
    assert store.asked == [ada_key, ada_key, ada_key]


async def test_query_by_account_agent(
    learners: httpx.AsyncClient, front_settings: Settings
) -> None:
    key = learner_keys(ACCOUNT, front_settings.learner_secret_bytes)[0]
    response = await learners.get(
        "/learners/profile", params={"agent": orjson.dumps(ACCOUNT).decode()}
    )
    assert response.json()["learner"] == key


async def test_unknown_agent_profile_is_404_naming_the_key_not_the_address(
    learners: httpx.AsyncClient, front_settings: Settings
) -> None:
    agent = {"mbox": "mailto:grace@example.org"}
    key = learner_keys(agent, front_settings.learner_secret_bytes)[0]
    response = await learners.get(
        "/learners/profile", params={"agent": orjson.dumps(agent).decode()}
    )
    assert response.status_code == 404
    problems_of(response)
    assert key in response.json()["error"]
    assert "grace" not in response.text
    milestones = await learners.get(
        "/learners/milestones", params={"agent": orjson.dumps(agent).decode()}
    )
    assert milestones.json() == []


@pytest.mark.parametrize(
    ("agent", "path", "code"),
    [
        ('{"mbox": "grace@example.org"}', "$.mbox", "mbox"),
        ('{"mbox_sha1sum": "grace@example.org"}', "$.mbox_sha1sum", "mbox_sha1sum"),
        ('{"openid": "grace@example.org"}', "$.openid", "iri"),
        (
            '{"account": {"homePage": "grace@example.org", "name": "g"}}',
            "$.account.homePage",
            "iri",
        ),
        ('{"account": {"homePage": "https://lms.example.com"}}', "$.account.name", "account"),
        ('{"mbox": "mailto:grace@example.org", "openid": "https://id.example.com/g"}', "$", "ifi"),
        ('{"name": "Grace"}', "$", "ifi"),
        ('{"mBox": "mailto:grace@example.org"}', "$.mBox", "unknown_property"),
        ('{"grace@example.org": true}', "$[(value not shown)]", "unknown_property"),
        (
            '{"objectType": "Group", "member": [{"mbox": "mailto:grace@example.org"}]}',
            "$.objectType",
            "group",
        ),
        (
            '{"objectType": "Person", "mbox": "mailto:grace@example.org"}',
            "$.objectType",
            "object_type",
        ),
        ('"mailto:grace@example.org"', "$", "type"),
        ('{"mbox": "mailto:grace@example.org"', "$", "json"),
        ("mailto:grace@example.org", "$", "json"),
        ("", "$", "json"),
        ("{" + " " * 5000 + "}", "$", "json"),
    ],
)
@pytest.mark.parametrize("query", ["profile", "milestones"])
async def test_invalid_agent_is_400_naming_the_problem_never_the_address(
    learners: httpx.AsyncClient, store: FakeStore, agent: str, path: str, code: str, query: str
) -> None:
    response = await learners.get(f"/learners/{query}", params={"agent": agent})
    assert response.status_code == 400, response.text
    problems = problems_of(response)
    assert (problems[0]["index"], problems[0]["path"], problems[0]["code"]) == (None, path, code)
    assert "agent" in response.json()["error"]
    assert "grace@" not in response.text
    assert store.asked == []


async def test_missing_agent_is_400_saying_how_to_query(learners: httpx.AsyncClient) -> None:
    for query in ("profile", "milestones"):
        response = await learners.get(f"/learners/{query}")
        assert response.status_code == 400
        (problem,) = problems_of(response)
        assert problem["code"] == "agent"
        assert "agent=" in problem["message"]
        assert f"/learners/<key>/{query}" in problem["message"]


@pytest.mark.parametrize("query", ["profile", "milestones"])
async def test_an_address_where_the_key_belongs_is_404_and_never_echoed_or_logged(
    learners: httpx.AsyncClient, store: FakeStore, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await learners.get(f"/learners/mailto:grace@example.org/{query}")
    assert response.status_code == 404
    problems_of(response)
    assert "grace" not in response.text
    assert "?agent=" in response.json()["error"]
    assert store.asked == []
    (line,) = [r for r in caplog.records if r.name == "skillstream.frontdoor.access"]
    assert line.path == f"/learners/(masked)/{query}"  # type: ignore[attr-defined]
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert all("grace" not in r.getMessage() for r in server)


async def test_the_agent_never_reaches_the_log(
    learners: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await learners.get("/learners/profile", params={"agent": ADA})
    await learners.get("/learners/milestones", params={"agent": '{"mbox": "ada@example.com"}'})
    lines = [r for r in caplog.records if r.name == "skillstream.frontdoor.access"]
    assert [(r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("/learners/profile", 200),
        ("/learners/milestones", 400),
    ]
    for record in caplog.records:
        if record.name.startswith(("httpx", "httpcore")):
            continue  # the test's own HTTP client
        assert "ada@" not in record.getMessage()
        assert "ada@" not in str(record.__dict__)


async def test_openapi_documents_the_agent_queries(learners: httpx.AsyncClient) -> None:
    paths = (await learners.get("/openapi.json")).json()["paths"]
    for query in ("profile", "milestones"):
        get = paths[f"/learners/{query}"]["get"]
        (agent,) = [p for p in get["parameters"] if p["name"] == "agent"]
        assert agent["in"] == "query"
        assert "mbox" in agent["description"]
        assert {"400", "401"} <= set(get["responses"])
