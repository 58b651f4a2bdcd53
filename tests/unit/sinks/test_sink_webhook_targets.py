"""Where webhooks may go: http(s) only, and public addresses unless a subscriber allows private.

The scheme is checked when settings load; an IP address in the URL when the sink is
built; a host name when the sink starts (resolved then) and again at every
connection, where the sink connects to the address it checked, so a name that
resolves to a public address at start and to a private one later (DNS rebinding)
is refused too. The connection tests use a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpcore
import pytest
from aiohttp import web
from pydantic import SecretStr
from sink_factories import m_record, milestone

from schemas.milestones import MilestoneDeliveryFailure
from sinks.deadletters import read_dead_letter
from sinks.retry import Backoff
from sinks.webhook import (
    AddressGuard,
    DeliveryPolicy,
    Resolver,
    UnsafeTargetError,
    WebhookSink,
    address_problem,
)
from skillstream.cli import main
from skillstream.errors import ConfigError
from skillstream.settings import Webhook, load_settings

TOKEN = "tok-7f3a-secret"
DOC = Path(__file__).resolve().parents[3] / "docs" / "sinks.md"
POLICY = DeliveryPolicy(timeout_s=5.0, max_elapsed_s=0.0, concurrency=4, backoff=Backoff(0.1, 0.1))


def hook(url: str, name: str = "crm", *, allow_private: bool = False) -> Webhook:
    return Webhook(
        name=name, url=url, secret=SecretStr(f"secret-{TOKEN}"), allow_private=allow_private
    )


def resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, _port: int) -> list[str]:
        if host in table:
            return table[host]
        raise OSError(-2, "Name or service not known")

    return resolve


# --- which addresses are public -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address (RFC 1918)"),
        ("172.16.0.1", "a private address (RFC 1918)"),
        ("172.31.255.254", "a private address (RFC 1918)"),
        ("192.168.1.20", "a private address (RFC 1918)"),
        ("64:ff9b::a01:203", "a private address (RFC 1918)"),
        ("fd12:3456::1", "a private address (unique-local)"),
        ("169.254.169.254", "a link-local address (the cloud metadata service)"),
        ("169.254.10.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "not a public address"),
        ("192.0.2.10", "not a public address"),
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("172.32.0.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_which_addresses_are_refused_and_why(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


# --- the scheme, when settings load -------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["file", "gopher", "ftp", "ws"])
def test_a_url_that_is_not_http_is_refused_when_settings_load(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SKILLSTREAM_WEBHOOKS",
        f'[{{"name": "crm", "url": "{scheme}://host/path?token={TOKEN}", "secret": "{TOKEN}"}}]',
    )
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert message == (
        "invalid settings: SKILLSTREAM_WEBHOOKS (at [0].url): subscriber 'crm': "
        f"the url should start with http:// or https://, not {scheme}://"
    )
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("crm.example.com/hooks", "should start with http:// or https://"),
        ("https:///hooks", "names no host"),
        ("https://crm.example.com:70000/hooks", "port should be 1 to 65535"),
        ("https://crm example.com/hooks", "host is not a valid host name or IP address"),
    ],
)
def test_a_url_without_a_usable_host_is_refused_when_settings_load(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        hook(url)


def test_http_and_https_urls_load() -> None:
    assert hook("https://crm.example.com/hooks").allow_private is False
    assert hook("HTTP://[2606:4700::1]:8080/h", allow_private=True).allow_private is True


# --- addresses in the URL, when the sink is built --------------------------------------------


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:9000/hooks", "127.0.0.1 is a loopback address"),
        ("http://[::1]:9000/hooks", "::1 is a loopback address"),
        ("http://10.0.0.7/hooks", "10.0.0.7 is a private address (RFC 1918)"),
        (
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254 is a link-local address (the cloud metadata service)",
        ),
        ("http://0.0.0.0:8000/", "0.0.0.0 is the unspecified address"),
    ],
)
def test_an_address_that_is_not_public_is_refused_when_the_sink_is_built(
    url: str, said: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        WebhookSink([hook(f"{url}?token={TOKEN}")], POLICY)
    message = str(refused.value)
    assert message.startswith(f"webhook crm ({url}): {said}; ")
    assert '"allow_private": true' in message
    assert TOKEN not in message
    assert "\n" not in message


def test_allow_private_lets_a_subscriber_use_a_private_address() -> None:
    WebhookSink([hook("http://127.0.0.1:9000/hooks", allow_private=True)], POLICY)


def test_the_command_exits_2_with_one_line_naming_the_subscriber(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv(
        "SKILLSTREAM_WEBHOOKS",
        '[{"name": "crm", "url": "http://169.254.169.254/latest?x=' + TOKEN + '", '
        '"secret": "' + TOKEN + '"}]',
    )
    with pytest.raises(SystemExit) as exited:
        main(["sink", "webhook"])
    _, err = capsys.readouterr()
    assert exited.value.code == 2
    [line] = err.strip().splitlines()
    assert line.startswith(
        "error: webhook crm (http://169.254.169.254/latest): 169.254.169.254 is a "
        "link-local address (the cloud metadata service)"
    )
    assert TOKEN not in err
    assert line in DOC.read_text(encoding="utf-8"), "docs/sinks.md shows this very line"


def test_the_subscribers_in_the_docs_load_and_pass_the_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = re.findall(r"SKILLSTREAM_WEBHOOKS='(\[.*?\])'", DOC.read_text(), flags=re.S)
    assert len(examples) == 2
    for example in examples:
        monkeypatch.setenv("SKILLSTREAM_WEBHOOKS", example)
        subscribers = load_settings().webhooks
        WebhookSink(subscribers, POLICY)
    assert [s.allow_private for s in subscribers] == [True]


# --- host names, when the sink starts ---------------------------------------------------------


async def test_a_host_name_at_a_private_address_is_refused_at_start() -> None:
    sink = WebhookSink(
        [hook("https://public.example/h", "ok"), hook("https://intranet.example/h", "hr")],
        POLICY,
        resolve=resolver(
            {"public.example": ["93.184.216.34"], "intranet.example": ["93.184.216.35", "10.2.3.4"]}
        ),
    )
    with pytest.raises(ConfigError) as refused:
        await sink.start()
    assert str(refused.value).startswith(
        "webhook hr (https://intranet.example/h): intranet.example resolves to 10.2.3.4, "
        "a private address (RFC 1918); "
    )
    await sink.close()


async def test_localhost_is_refused_at_start_with_the_real_resolver() -> None:
    sink = WebhookSink([hook("http://localhost:9000/h")], POLICY)
    with pytest.raises(ConfigError, match=r"localhost resolves to .*, a loopback address"):
        await sink.start()
    await sink.close()


async def test_allow_private_skips_the_check_at_start() -> None:
    sink = WebhookSink(
        [hook("http://receiver.internal:9000/h", allow_private=True)],
        POLICY,
        resolve=resolver({"receiver.internal": ["10.0.0.9"]}),
    )
    await sink.start()
    await sink.close()


async def test_a_name_that_cannot_be_resolved_at_start_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = WebhookSink([hook("https://gone.example/h")], POLICY, resolve=resolver({}))
    with caplog.at_level(logging.WARNING, logger="skillstream.sinks"):
        await sink.start()
    await sink.close()
    assert "webhook crm: cannot resolve gone.example now" in caplog.text
    assert "checked at every connection" in caplog.text


def test_a_target_shared_by_subscribers_is_private_only_if_every_one_allows_it() -> None:
    sink = WebhookSink(
        [
            hook("http://shared.internal/a", "a", allow_private=True),
            hook("http://shared.internal:80/b", "b"),
            hook("http://own.internal:8080/c", "c", allow_private=True),
        ],
        POLICY,
    )
    assert sink.allowed_private() == frozenset({("own.internal", 8080)})


# --- at every connection --------------------------------------------------------------------


class LocalReceiver:
    """A real HTTP server on 127.0.0.1 that records the Host header of every request."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers["Host"])
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[LocalReceiver]:
    found = LocalReceiver()
    app = web.Application()
    app.router.add_post("/hooks", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.port = runner.addresses[0][1]
    yield found
    await runner.cleanup()


async def deliver(sink: WebhookSink) -> list[MilestoneDeliveryFailure]:
    await sink.start()
    try:
        result = await sink.write([m_record(milestone(), 0)])
    finally:
        await sink.close()
    letters = [read_dead_letter(letter.value) for letter in result.dead_letters]
    assert all(isinstance(letter, MilestoneDeliveryFailure) for letter in letters)
    return [letter for letter in letters if isinstance(letter, MilestoneDeliveryFailure)]


async def test_a_name_that_turns_private_after_the_start_is_refused_at_connection(
    receiver: LocalReceiver,
) -> None:
    """DNS rebinding: public when checked at start, loopback when the sink connects."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(_host: str, _port: int) -> list[str]:
        return next(answers)

    sink = WebhookSink(
        [hook(f"http://rebind.example:{receiver.port}/hooks")], POLICY, resolve=rebinding
    )
    [failure] = await deliver(sink)

    assert receiver.hosts == [], "nothing reached the private address"
    assert failure.attempts == 1, "a refused address is final, not retried"
    assert failure.error == (
        f"webhook crm (http://rebind.example:{receiver.port}/hooks): refused to connect: "
        "rebind.example resolves to 127.0.0.1, a loopback address"
    )


async def test_the_sink_connects_to_the_address_it_checked_keeping_the_host_name(
    receiver: LocalReceiver,
) -> None:
    sink = WebhookSink(
        [hook(f"http://receiver.internal:{receiver.port}/hooks", allow_private=True)],
        POLICY,
        resolve=resolver({"receiver.internal": ["127.0.0.1"]}),
    )
    assert await deliver(sink) == []
    assert receiver.hosts == [f"receiver.internal:{receiver.port}"]


async def test_an_allowed_address_in_the_url_is_delivered_to(receiver: LocalReceiver) -> None:
    sink = WebhookSink(
        [hook(f"http://127.0.0.1:{receiver.port}/hooks", allow_private=True)], POLICY
    )
    assert await deliver(sink) == []
    assert receiver.hosts == [f"127.0.0.1:{receiver.port}"]


async def test_the_guard_tries_each_checked_address_and_refuses_any_mix() -> None:
    connected: list[str] = []

    class Inner(httpcore.AsyncNetworkBackend):
        async def connect_tcp(  # type: ignore[override]
            self, host: str, port: int, **_: object
        ) -> httpcore.AsyncNetworkStream:
            connected.append(host)
            if host == "93.184.216.34":
                raise httpcore.ConnectError("refused")
            return httpcore.AsyncNetworkStream()

    guard = AddressGuard(
        resolver(
            {
                "two.example": ["93.184.216.34", "93.184.216.35"],
                "mix.example": ["93.184.216.34", "fd00::1"],
            }
        ),
        inner=Inner(),
    )
    assert isinstance(await guard.connect_tcp("two.example", 443), httpcore.AsyncNetworkStream)
    assert connected == ["93.184.216.34", "93.184.216.35"]
    with pytest.raises(UnsafeTargetError, match=r"fd00::1, a private address \(unique-local\)"):
        await guard.connect_tcp("mix.example", 443)
    assert connected == ["93.184.216.34", "93.184.216.35"], "nothing tried for a mix"


async def test_no_proxy_from_the_environment_is_used(
    receiver: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:1")
    sink = WebhookSink(
        [hook(f"http://127.0.0.1:{receiver.port}/hooks", allow_private=True)], POLICY
    )
    assert await deliver(sink) == []
    assert receiver.hosts == [f"127.0.0.1:{receiver.port}"]
