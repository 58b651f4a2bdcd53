"""The front door's FastAPI app: routes, error bodies and the producer's lifetime.

Endpoints (OpenAPI at ``/docs`` and ``/openapi.json``):

=========================================  =====  ===========================================
endpoint                                   auth   answer
=========================================  =====  ===========================================
``POST /xapi/statements``                  Basic  200 JSON array of ids, in order
``PUT /xapi/statements?statementId=ID``    Basic  204
``GET /xapi/about``                        none   the xAPI versions spoken
``GET /learners/{key}/profile``            Basic  newest profile snapshot, 404 if unknown
``GET /learners/{key}/milestones``         Basic  the learner's milestones by achieved_at
``GET /learners/profile?agent=AGENT``      Basic  the same, the learner named by an xAPI Agent
``GET /learners/milestones?agent=AGENT``   Basic  the same, the learner named by an xAPI Agent
``GET /healthz``                           none   200, or 503 naming Kafka and/or the database
``GET /metrics``                           none   Prometheus text format
=========================================  =====  ===========================================

Statement rules are in ``statements.py``; this module reads the body (at most
``max_body_bytes``, within ``body_timeout_s`` of the handler starting to read
it: 408 otherwise), hands it over, produces the result and answers. Error
bodies are always ``{"error": "...", "problems": [...]}`` (``problems.py``),
also for 401, 404 and 503, so a client parses one shape. An unreachable
Kafka or database is 503 with a message naming it, never a stack trace.
A 408 or 413 also closes the connection (``Connection: close``), so a client
that is still sending is not read any further.

Bounded work per request: at most ``max_statements`` statements (413 before
any is validated, ``statements.py``), at most ``MAX_PROBLEMS`` problems in a
400, and bodies over 256 KiB are parsed and validated in a worker thread, at
most :data:`BIG_BODY_SLOTS` at a time, so a burst of large bodies queues
instead of multiplying the memory their parsing takes. Header and keep-alive
deadlines are the HTTP server's (``server.py``).

``AGENT`` is a JSON Agent, URL-encoded, as in the Statement API's GET
(``{"mbox": "mailto:ada@example.com"}``, ``{"account": {"homePage": …, "name":
…}}``, ``mbox_sha1sum``, ``openid``): hashed here with the configured learner-key
secret into the key the pipeline gives that actor (``skillstream.learners``).
An invalid Agent is 400 with a problem per fault (``path`` inside the Agent; no
value of it repeated); the parameter missing is 400 (code ``agent``). A ``{key}``
that does not start with ``lrn_`` is 404 without being repeated, since it may be
an e-mail address sent where the key belongs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.identity import KEY_PREFIX
from skillstream import metrics
from skillstream.errors import ServiceUnavailable, SkillstreamError
from skillstream.frontdoor.access import AccessMiddleware
from skillstream.frontdoor.auth import require_lms
from skillstream.frontdoor.problems import Problem, Rejected, request_problem
from skillstream.frontdoor.publisher import KafkaPublisher, Publisher
from skillstream.frontdoor.queries import LearnerStore
from skillstream.frontdoor.statements import MAX_STATEMENTS, VERSION_HEADER, Accepted, accept
from skillstream.learners import AGENT_EXAMPLE, InvalidAgent, learner_of_agent, parse_agent
from skillstream.settings import Settings

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_THREAD_ABOVE_BYTES: Final = 256 * 1024
"""Bodies larger than this are validated in a worker thread, so one big batch does not
stall every other request on the event loop."""
BIG_BODY_SLOTS: Final = 2
"""Large bodies parsed and validated at once; others wait their turn. Validation holds the
GIL, so more slots would add memory (up to ~150 MB each for a 16 MiB body), not speed."""
BODY_TIMEOUT_S: Final = 60.0
"""Seconds a client has to send the whole body once the handler reads it (``serve
--body-timeout``): 16 MiB at 2.3 Mbit/s. Slower (or stalled) clients get 408."""
HEALTH_TIMEOUT_S: Final = 2.0
CLOSE: Final = {"Connection": "close"}


class ProblemModel(BaseModel):
    index: int | None = Field(description="Position of the statement in the batch; null: request")
    path: str | None = Field(description="JSON path inside the statement; null: request")
    message: str
    code: str


class ErrorBody(BaseModel):
    error: str
    problems: list[ProblemModel] = []


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable")
    kafka: Check
    database: Check


_STATEMENTS_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": (
            "One xAPI statement or an array of them (application/json), or an xAPI "
            "multipart/mixed request: first part the statements (application/json), then "
            "one part per attachment with X-Experience-API-Hash (its SHA-2) and "
            "Content-Transfer-Encoding: binary."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object", "title": "Statement"},
                        {"type": "array", "items": {"type": "object", "title": "Statement"}},
                    ]
                }
            },
            "multipart/mixed": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": VERSION_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "example": "2.0.0"},
            "description": "1.0.x (xAPI 1.0.3 rules) or 2.0.x (xAPI 2.0 rules).",
        }
    ],
}
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorBody, "description": "Refused: every problem found; nothing stored."},
    401: {"model": ErrorBody, "description": "Missing or wrong Basic credentials."},
    503: {"model": ErrorBody, "description": "Kafka did not acknowledge; nothing confirmed."},
}


_AGENT_PARAM: Final[Any] = Query(
    None,
    description=(
        "The learner as an xAPI Agent (JSON, URL-encoded) with exactly one of mbox, "
        f"mbox_sha1sum, openid and account, e.g. {AGENT_EXAMPLE}. Hashed here into the "
        "learner key; never stored, logged or echoed."
    ),
    openapi_examples={
        "mbox": {"value": AGENT_EXAMPLE},
        "account": {
            "value": '{"account": {"homePage": "https://lms.example.com", "name": "u00042"}}'
        },
    },
)
_LEARNER_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorBody, "description": "The agent is missing or names no learner."},
    401: _ERRORS[401],
    503: {"model": ErrorBody, "description": "The database cannot be read."},
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "problems": []}, status, headers=headers)


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise request_problem(
            f"the body is {declared} bytes; this front door takes at most {limit} bytes per "
            "request: split the batch",
            "too_large",
            status=413,
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise request_problem(
                        f"the body is over {limit} bytes, the most this front door takes per "
                        "request: split the batch",
                        "too_large",
                        status=413,
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise request_problem(
            f"the body did not arrive within {timeout_s:g}s ({size} bytes received): send it "
            "faster or split the batch",
            "body_timeout",
            status=408,
        ) from None
    return b"".join(chunks)


def create_app(
    settings: Settings,
    *,
    publisher: Publisher | None = None,
    store: LearnerStore | None = None,
    publish_timeout_s: float = 10.0,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_statements: int = MAX_STATEMENTS,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> FastAPI:
    """The front door for ``settings``. ``publisher``/``store`` default to Kafka and the SQL
    sink's database; tests pass fakes. The lifespan starts the publisher (a no-op if the
    caller already did) and stops it and the store on shutdown. Serve it with
    ``server.server_config`` for the header and keep-alive deadlines."""
    kafka: Publisher = publisher or KafkaPublisher(
        settings.kafka, settings.topics.statements, timeout_s=publish_timeout_s
    )
    learners = store or LearnerStore(settings.database_url)
    secret = settings.learner_secret_bytes
    default_version = settings.xapi_version
    big_bodies = asyncio.Semaphore(BIG_BODY_SLOTS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await kafka.start()
        try:
            yield
        finally:
            await kafka.stop()
            learners.close()

    app = FastAPI(
        title="skillstream front door",
        version="1",
        summary="xAPI statements in (to Kafka); learner profiles and milestones out.",
        description=(
            "LMS platforms POST or PUT xAPI 1.0.3/2.0 statements; each accepted statement "
            "is produced to Kafka (acknowledged by all in-sync replicas) before the answer. "
            "Learner queries read the SQL sink's database, which lags the stream by the "
            "sink's batch interval. Guide: docs/frontdoor.md."
        ),
        lifespan=lifespan,
    )
    app.add_middleware(AccessMiddleware, default_version=default_version)
    lms = Depends(require_lms(settings))

    @app.exception_handler(Rejected)
    async def _rejected(_request: Request, exc: Rejected) -> JSONResponse:
        return JSONResponse(
            exc.body(), exc.status, headers=CLOSE if exc.status in (408, 413) else None
        )

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(503, str(exc).replace("\n  what to do:", "; what to do:"))

    @app.exception_handler(SkillstreamError)
    async def _failed(_request: Request, exc: SkillstreamError) -> JSONResponse:
        return _error(500, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            Problem(None, ".".join(str(p) for p in e.get("loc", ())), str(e.get("msg")), "request")
            for e in exc.errors()
        ]
        return JSONResponse(Rejected("the request is invalid", problems).body(), 400)

    async def _accept(request: Request, statement_id: str | None, single: bool) -> Accepted:
        body = await _read_body(request, max_body_bytes, body_timeout_s)
        args = (body, request.headers.get("content-type"), request.headers.get(VERSION_HEADER))
        options: dict[str, Any] = {
            "secret": secret,
            "default_version": default_version,
            "statement_id": statement_id,
            "single": single,
            "max_statements": max_statements,
        }
        try:
            if len(body) > _THREAD_ABOVE_BYTES:
                async with big_bodies:
                    accepted = await asyncio.to_thread(accept, *args, **options)
            else:
                accepted = accept(*args, **options)
        except Rejected as exc:
            request.state.statements = exc.received
            metrics.record_statements_received("http", exc.received)
            metrics.record_rejected(exc.codes.elements())
            raise
        del body, args  # the records hold what is produced; the body is not needed any more
        request.state.statements = accepted.received
        metrics.record_statements_received("http", accepted.received)
        await kafka.publish(accepted.records, accepted.version_header)
        return accepted

    @app.post(
        "/xapi/statements",
        tags=["statements"],
        summary="Store one statement or a batch",
        response_model=list[str],
        responses={200: {"description": "The statement ids, in request order."}, **_ERRORS},
        openapi_extra=_STATEMENTS_BODY,
    )
    async def post_statements(request: Request, _user: str = lms) -> Response:
        """Validate every statement, produce them all to Kafka, answer their ids.

        Statements without an id get one (the same for the same content, so a retry is
        harmless). One invalid statement refuses the whole batch with every problem.
        """
        accepted = await _accept(request, None, single=False)
        return Response(orjson.dumps(accepted.ids), media_type="application/json")

    @app.put(
        "/xapi/statements",
        tags=["statements"],
        summary="Store one statement under the id given",
        status_code=204,
        responses={204: {"description": "Stored (acknowledged by Kafka)."}, **_ERRORS},
        openapi_extra=_STATEMENTS_BODY,
    )
    async def put_statement(
        request: Request,
        statement_id: str | None = Query(
            None, alias="statementId", description="The statement's id (a UUID); required."
        ),
        _user: str = lms,
    ) -> Response:
        """Validate one statement whose id is ``statementId``, produce it, answer 204."""
        if statement_id is None:
            raise request_problem(
                "PUT /xapi/statements needs the statementId query parameter "
                "(use POST to have an id assigned)",
                "statement_id",
            )
        await _accept(request, statement_id, single=True)
        return Response(status_code=204)

    @app.get("/xapi/about", tags=["statements"], summary="xAPI versions this front door speaks")
    async def about() -> dict[str, Any]:
        return {"version": ["1.0.3", "2.0.0"], "extensions": {}}

    def _keyed(key: str, what: str) -> str:
        if not key.startswith(KEY_PREFIX):
            raise StarletteHTTPException(
                404,
                f"not a learner key (keys start with {KEY_PREFIX}); to name a person by "
                f"e-mail address or account, use GET /learners/{what}?agent=<xAPI Agent "
                f"as JSON, e.g. {AGENT_EXAMPLE}>",
            )
        return key

    def _agent_learner(agent: str | None, what: str) -> str:
        if agent is None:
            raise request_problem(
                f"GET /learners/{what} needs the agent query parameter: the learner as an "
                f"xAPI Agent, e.g. agent={AGENT_EXAMPLE} (URL-encoded); or use "
                f"GET /learners/<key>/{what}",
                "agent",
            )
        try:
            return learner_of_agent(parse_agent(agent), secret).learner
        except InvalidAgent as exc:
            raise Rejected(
                f"the agent parameter names no learner: {exc}",
                [Problem(None, p.path, p.message, p.code) for p in exc.problems],
            ) from None

    async def _profile(learner: str) -> dict[str, Any]:
        snapshot = await learners.profile(learner)
        if snapshot is None:
            raise StarletteHTTPException(
                404,
                f"no profile for learner {learner} in {learners.describe()} (unknown, erased, "
                "or not yet written by the SQL sink)",
            )
        return snapshot

    @app.get(
        "/learners/profile",
        tags=["learners"],
        summary="A learner's newest profile snapshot, the learner named by an xAPI Agent",
        responses={404: {"model": ErrorBody}, **_LEARNER_ERRORS},
    )
    async def learner_profile_by_agent(
        agent: str | None = _AGENT_PARAM, _user: str = lms
    ) -> dict[str, Any]:
        """As ``/learners/{key}/profile``, the key hashed here from ``agent`` with the
        learner-key secret, exactly as the pipeline keys that actor's statements."""
        return await _profile(_agent_learner(agent, "profile"))

    @app.get(
        "/learners/milestones",
        tags=["learners"],
        summary="A learner's milestones, oldest first, the learner named by an xAPI Agent",
        responses=_LEARNER_ERRORS,
    )
    async def learner_milestones_by_agent(
        agent: str | None = _AGENT_PARAM, _user: str = lms
    ) -> list[dict[str, Any]]:
        """As ``/learners/{key}/milestones``, the key hashed here from ``agent``."""
        return await learners.milestones(_agent_learner(agent, "milestones"))

    @app.get(
        "/learners/{key}/profile",
        tags=["learners"],
        summary="A learner's newest profile snapshot",
        responses={404: {"model": ErrorBody}, 401: _ERRORS[401], 503: _ERRORS[503]},
    )
    async def learner_profile(key: str, _user: str = lms) -> dict[str, Any]:
        """The snapshot the SQL sink holds for learner ``key`` (pseudonymous key)."""
        return await _profile(_keyed(key, "profile"))

    @app.get(
        "/learners/{key}/milestones",
        tags=["learners"],
        summary="A learner's milestones, oldest first",
        responses={404: {"model": ErrorBody}, 401: _ERRORS[401], 503: _ERRORS[503]},
    )
    async def learner_milestones(key: str, _user: str = lms) -> list[dict[str, Any]]:
        """Milestone CloudEvents of learner ``key`` ordered by achieved_at (empty if none)."""
        return await learners.milestones(_keyed(key, "milestones"))

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Kafka and the database answer",
        response_model=Health,
        responses={503: {"model": Health}},
    )
    async def healthz() -> JSONResponse:
        """Both checks run at once, each bounded by a short timeout."""
        results = await asyncio.gather(
            kafka.check(HEALTH_TIMEOUT_S), learners.check(HEALTH_TIMEOUT_S), return_exceptions=True
        )
        checks: dict[str, Check] = {}
        for name, result in zip(("kafka", "database"), results, strict=True):
            if isinstance(result, str):
                checks[name] = Check(ok=True, detail=result)
            elif isinstance(result, SkillstreamError):
                checks[name] = Check(ok=False, detail=str(result).replace("\n  what to do:", ";"))
            elif isinstance(result, BaseException):
                detail = f"{name} check failed: {type(result).__name__}: {result}"
                checks[name] = Check(ok=False, detail=detail)
        healthy = all(c.ok for c in checks.values())
        health = Health(status="ok" if healthy else "unavailable", **checks)
        return JSONResponse(health.model_dump(), 200 if healthy else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app
