"""The webhook sink against httpx.MockTransport: signing, filters, retries, budget, order.

The time budget under many concurrent retries (outages in simulated time) is in
test_sink_webhook_budget.py; which addresses a subscriber may be at, in
test_sink_webhook_targets.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr
from sink_factories import learner, m_record, milestone

from schemas.milestones import MilestoneDeliveryFailure, MilestoneEvent, MilestoneKind
from sinks.base import WriteResult
from sinks.deadletters import read_dead_letter
from sinks.retry import Backoff
from sinks.signing import verify
from sinks.webhook import DeliveryPolicy, WebhookSink, shown_url
from skillstream.errors import ConfigError
from skillstream.settings import Webhook

WALL_T0 = 1_780_000_000.0
PUBLIC_ADDRESS = "93.184.216.34"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def public(_host: str, _port: int) -> list[str]:
    """A resolver for the tests' made-up host names: each is at a public address."""
    return [PUBLIC_ADDRESS]


def hook(name: str = "crm", **filters: tuple[str, ...]) -> Webhook:
    return Webhook(
        name=name,
        url=f"https://{name}.example/hooks?token=t0ps3cret",
        secret=SecretStr(f"secret-{name}"),
        **filters,
    )


def policy(**overrides: object) -> DeliveryPolicy:
    values: dict[str, object] = {
        "timeout_s": 5.0,
        "max_elapsed_s": 600.0,
        "concurrency": 16,
        "backoff": Backoff(0.5, 8.0),
    }
    values.update(overrides)
    return DeliveryPolicy(**values)  # type: ignore[arg-type]


class FakeTime:
    """Sleeping advances a fake clock at once, and each wait is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_T0 + self.now


class Log:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def ids(self, host: str | None = None) -> list[str]:
        return [
            r.headers["Skillstream-Event-Id"]
            for r in self.requests
            if host is None or r.url.host == host
        ]


def make_sink(
    answer: Callable[[httpx.Request, int], httpx.Response | Exception],
    subscribers: list[Webhook] | None = None,
    clock: FakeTime | None = None,
    **policy_overrides: object,
) -> tuple[WebhookSink, Log, FakeTime]:
    """A sink whose transport calls ``answer(request, n)``; n counts requests for that event id."""
    log = Log()
    clock = clock or FakeTime()
    per_id: dict[tuple[str, str], int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        log.requests.append(request)
        key = (request.url.host, request.headers["Skillstream-Event-Id"])
        per_id[key] = per_id.get(key, 0) + 1
        outcome = answer(request, per_id[key])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    sink = WebhookSink(
        subscribers or [hook()],
        policy(**policy_overrides),
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wall_clock=clock.wall,
        rng=lambda: 0.5,
        resolve=public,
    )
    return sink, log, clock


def ok(_request: httpx.Request, _n: int) -> httpx.Response:
    return httpx.Response(204)


async def write(sink: WebhookSink, *events: MilestoneEvent) -> WriteResult:
    await sink.start()
    try:
        return await sink.write([m_record(e, i) for i, e in enumerate(events)])
    finally:
        await sink.close()


def failures(result: WriteResult) -> list[MilestoneDeliveryFailure]:
    out = []
    for letter in result.dead_letters:
        parsed = read_dead_letter(letter.value)
        assert isinstance(parsed, MilestoneDeliveryFailure)
        out.append(parsed)
    return out


# --- what is sent ---------------------------------------------------------------------------


async def test_a_delivery_is_a_signed_structured_cloudevent() -> None:
    sink, log, clock = make_sink(ok)
    event = milestone()

    result = await write(sink, event)

    assert (result.written, result.deliveries, result.dead_letters) == (1, 1, [])
    [request] = log.requests
    assert request.method == "POST"
    assert str(request.url) == "https://crm.example/hooks?token=t0ps3cret"
    assert request.headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
    assert request.headers["Skillstream-Event-Id"] == event.id
    assert request.headers["Skillstream-Delivery-Attempt"] == "1"
    assert MilestoneEvent.model_validate_json(request.content) == event
    assert request.content == event.model_dump_json().encode()  # the milestones topic's bytes
    stamp = verify(
        "secret-crm", request.headers["Skillstream-Signature"], request.content, now=clock.wall()
    )
    assert stamp == int(WALL_T0)


async def test_the_same_milestone_twice_in_a_batch_is_sent_once() -> None:
    sink, log, _ = make_sink(ok)
    event = milestone()
    result = await write(sink, event, event)
    assert log.ids() == [event.id]
    assert result.written == 1


async def test_each_subscriber_gets_what_its_filter_matches() -> None:
    subscribers = [
        hook("all"),
        hook("roles", kinds=("role_ready",)),
        hook("python", skills=("python",)),
        hook("both", kinds=("skill_level_reached",), skills=("sql",)),
    ]
    sink, log, _ = make_sink(ok, subscribers)
    python_expert = milestone("lrn_a", skill="python")
    sql_expert = milestone("lrn_b", skill="sql")
    role = milestone("lrn_c", kind=MilestoneKind.ROLE_READY, skill="data-engineer")
    role = role.model_copy(
        update={"data": role.data.model_copy(update={"skills": ("python", "sql")})}
    )
    networker = milestone("lrn_d", kind=MilestoneKind.NETWORKER, skill=None)

    await write(sink, python_expert, sql_expert, role, networker)

    assert set(log.ids("all.example")) == {python_expert.id, sql_expert.id, role.id, networker.id}
    assert log.ids("roles.example") == [role.id]
    assert set(log.ids("python.example")) == {python_expert.id, role.id}
    assert log.ids("both.example") == [sql_expert.id]


# --- retries ----------------------------------------------------------------------------------


async def test_5xx_is_retried_with_full_jitter_backoff_until_delivered() -> None:
    def flaky(_r: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response({1: 503, 2: 502}.get(n, 200))

    sink, log, clock = make_sink(flaky)
    result = await write(sink, milestone())

    assert result.dead_letters == []
    assert [r.headers["Skillstream-Delivery-Attempt"] for r in log.requests] == ["1", "2", "3"]
    assert clock.sleeps == [0.25, 0.5]  # rng 0.5 x ceilings 0.5, 1.0


@pytest.mark.parametrize("status", [408, 429, 500, 503, 504])
async def test_408_429_and_5xx_are_retried(status: int) -> None:
    sink, log, _ = make_sink(lambda _r, n: httpx.Response(status if n == 1 else 200))
    result = await write(sink, milestone())
    assert result.dead_letters == []
    assert len(log.requests) == 2


async def test_retry_after_in_seconds_is_honoured() -> None:
    sink, _, clock = make_sink(
        lambda _r, n: (
            httpx.Response(429, headers={"Retry-After": "7"}) if n == 1 else httpx.Response(200)
        )
    )
    await write(sink, milestone())
    assert clock.sleeps == [7.0]


async def test_retry_after_as_an_http_date_is_honoured() -> None:
    clock = FakeTime()
    later = format_datetime(
        datetime.fromtimestamp(WALL_T0, UTC) + timedelta(seconds=20), usegmt=True
    )
    sink, _, clock = make_sink(
        lambda _r, n: (
            httpx.Response(503, headers={"Retry-After": later}) if n == 1 else httpx.Response(200)
        ),
        clock=clock,
    )
    await write(sink, milestone())
    assert clock.sleeps == [20.0]


async def test_timeouts_and_connection_errors_are_retried() -> None:
    def broken(request: httpx.Request, n: int) -> httpx.Response | Exception:
        if n == 1:
            return httpx.ReadTimeout("slow", request=request)
        if n == 2:
            return httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    sink, log, _ = make_sink(broken)
    result = await write(sink, milestone())
    assert result.dead_letters == []
    assert len(log.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
async def test_other_4xx_go_straight_to_the_dead_letters(status: int) -> None:
    sink, log, clock = make_sink(lambda _r, _n: httpx.Response(status))
    event = milestone()

    result = await write(sink, event)

    assert len(log.requests) == 1
    assert clock.sleeps == []
    [failure] = failures(result)
    assert failure.milestone == event
    assert failure.sink == "webhook:crm"
    assert failure.attempts == 1
    assert f"HTTP {status}" in failure.error
    assert result.written == 0
    assert result.dead_letters[0].key == event.data.learner.encode()


async def test_a_redirect_is_final_and_says_why() -> None:
    sink, log, _ = make_sink(lambda _r, _n: httpx.Response(301, headers={"Location": "https://x/"}))
    [failure] = failures(await write(sink, milestone()))
    assert len(log.requests) == 1
    assert "redirects are not followed" in failure.error


async def test_the_budget_is_a_time_not_a_number_of_attempts() -> None:
    """Many quick failures do not use the budget up: only the time since the first attempt does."""
    sink, log, clock = make_sink(
        lambda r, n: (
            httpx.ConnectError("connection refused", request=r) if n <= 40 else httpx.Response(204)
        ),
        max_elapsed_s=30.0,
        backoff=Backoff(0.5, 0.5),
    )
    result = await write(sink, milestone())
    assert result.dead_letters == []
    assert len(log.requests) == 41
    assert clock.now == 40 * 0.25


async def test_past_the_time_budget_the_milestone_is_dead_lettered_not_before() -> None:
    sink, log, clock = make_sink(
        lambda r, _n: httpx.ConnectError("connection refused", request=r),
        max_elapsed_s=2.0,
        backoff=Backoff(1.0, 1.0),
    )
    [failure] = failures(await write(sink, milestone()))
    # waits of 0.5s (rng 0.5 x 1s): attempts at 0, 0.5, 1.0, 1.5 and 2.0, then the budget is spent
    assert [r.headers["Skillstream-Delivery-Attempt"] for r in log.requests] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5]
    assert failure.attempts == 5
    assert failure.failed_at == datetime.fromtimestamp(WALL_T0 + 2.0, UTC)
    assert "connection failed: connection refused" in failure.error
    assert "the 2s retry budget since the first attempt is spent (5 attempts)" in failure.error


async def test_the_last_wait_is_cut_so_the_last_attempt_comes_as_the_budget_ends() -> None:
    sink, _, clock = make_sink(
        lambda _r, _n: httpx.Response(500), max_elapsed_s=2.2, backoff=Backoff(1.0, 1.0)
    )
    [failure] = failures(await write(sink, milestone()))
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.2])
    assert failure.attempts == 6


async def test_a_retry_after_beyond_the_budget_is_cut_to_what_is_left_of_it() -> None:
    sink, log, clock = make_sink(
        lambda _r, _n: httpx.Response(503, headers={"Retry-After": "3600"}), max_elapsed_s=60.0
    )
    [failure] = failures(await write(sink, milestone()))
    assert len(log.requests) == 2
    assert clock.sleeps == [60.0]
    assert failure.attempts == 2
    assert "HTTP 503" in failure.error
    assert "60s retry budget since the first attempt is spent" in failure.error


async def test_a_subscriber_back_when_its_retry_after_is_cut_short_gets_the_milestone() -> None:
    sink, log, clock = make_sink(
        lambda _r, n: (
            httpx.Response(503, headers={"Retry-After": "3600"}) if n == 1 else httpx.Response(200)
        ),
        max_elapsed_s=60.0,
    )
    result = await write(sink, milestone())
    assert result.dead_letters == []
    assert clock.sleeps == [60.0]
    assert len(log.requests) == 2


async def test_retry_after_zero_does_not_hammer_the_subscriber() -> None:
    """Retry-After can lengthen a wait, never shorten it below the backoff."""
    sink, log, clock = make_sink(
        lambda _r, _n: httpx.Response(503, headers={"Retry-After": "0"}),
        max_elapsed_s=10.0,
        backoff=Backoff(2.0, 2.0),
    )
    await write(sink, milestone())
    assert clock.sleeps == [1.0] * 10
    assert len(log.requests) == 11


async def test_with_a_zero_budget_a_milestone_is_tried_once() -> None:
    sink, log, clock = make_sink(lambda _r, _n: httpx.Response(500), max_elapsed_s=0.0)
    [failure] = failures(await write(sink, milestone()))
    assert len(log.requests) == 1
    assert clock.sleeps == []
    assert failure.attempts == 1


async def test_errors_name_the_subscriber_without_its_token() -> None:
    sink, _, _ = make_sink(lambda _r, _n: httpx.Response(404))
    [failure] = failures(await write(sink, milestone()))
    assert "webhook crm (https://crm.example/hooks)" in failure.error
    assert "t0ps3cret" not in failure.error
    assert shown_url("https://user:pw@h.example:8443/p?q=1#f") == "https://h.example:8443/p"


# --- order and concurrency ----------------------------------------------------------------------


async def test_a_learners_milestones_arrive_in_order_even_when_the_first_is_retried() -> None:
    first, second = milestone("lrn_a", level="one"), milestone("lrn_a", level="two")

    def first_fails_twice(request: httpx.Request, n: int) -> httpx.Response:
        is_first = request.headers["Skillstream-Event-Id"] == first.id
        return httpx.Response(500 if is_first and n <= 2 else 200)

    sink, log, _ = make_sink(first_fails_twice)
    result = await write(sink, first, second)

    assert result.dead_letters == []
    assert log.ids() == [first.id, first.id, first.id, second.id]


async def test_other_learners_do_not_wait_for_a_retried_one() -> None:
    slow, other = milestone("lrn_a"), milestone("lrn_b")
    delivered: list[str] = []

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        event_id = request.headers["Skillstream-Event-Id"]
        if event_id == slow.id and n <= 3:
            return httpx.Response(503)
        delivered.append(event_id)
        return httpx.Response(200)

    sink, _, _ = make_sink(answer)
    await write(sink, slow, other)
    assert delivered == [other.id, slow.id]


async def test_requests_in_flight_per_subscriber_are_capped() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200)

    sink = WebhookSink(
        [hook()],
        policy(concurrency=3),
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolve=public,
    )
    result = await write(sink, *(milestone(learner(n)) for n in range(12)))
    assert result.deliveries == 12
    assert peak == 3


async def test_a_subscriber_that_hangs_holds_the_batch_only_within_the_bound() -> None:
    """Real time: 'stuck' never answers; 'fine' gets everything at once; the batch ends in bound."""
    never = asyncio.Event()
    fine_done_at: list[float] = []
    started = time.monotonic()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "stuck.example":
            await never.wait()
        fine_done_at.append(time.monotonic() - started)
        return httpx.Response(200)

    timeout, budget = 0.2, 0.5
    sink = WebhookSink(
        [hook("stuck"), hook("fine")],
        policy(timeout_s=timeout, max_elapsed_s=budget, backoff=Backoff(0.05, 0.1)),
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolve=public,
    )
    events = [milestone(learner(n)) for n in range(5)]

    result = await write(sink, *events)
    elapsed = time.monotonic() - started

    bound = 1 * (budget + timeout * (1 + 1))  # k = 1 per learner, ceil(5 / 16) = 1
    assert elapsed <= bound + 1.0, f"batch took {elapsed:.2f}s, bound {bound:.2f}s"
    assert len(fine_done_at) == 5
    assert max(fine_done_at) < timeout
    stuck = failures(result)
    assert {f.milestone.id for f in stuck} == {e.id for e in events}
    assert all(f.sink == "webhook:stuck" and "no answer within 0.2s" in f.error for f in stuck)
    assert result.deliveries == 5
    assert result.written == 0


# --- configuration ----------------------------------------------------------------------------


def test_no_subscribers_is_a_config_error_that_says_how() -> None:
    with pytest.raises(ConfigError, match="SKILLSTREAM_WEBHOOKS"):
        WebhookSink([], policy())


def test_an_unknown_kind_in_a_filter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown milestone kind.*rockstar"):
        WebhookSink([hook(kinds=("rockstar",))], policy())


def test_subscriber_names_must_be_unique() -> None:
    with pytest.raises(ConfigError, match="unique"):
        WebhookSink([hook("a"), hook("a")], policy())


async def test_one_client_serves_every_subscriber_and_is_closed() -> None:
    sink = WebhookSink([hook("a"), hook("b")], policy(concurrency=4), resolve=public)
    await sink.start()
    client = sink.client
    assert isinstance(client, httpx.AsyncClient)
    await sink.close()
    assert client.is_closed
