"""``skillstream serve``: help that teaches, exit 3 when Kafka cannot be reached, and exit 2
rather than a public default credential on a network address."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``serve`` configures logging onto the test's captured stderr: undo it afterwards, so
    later tests do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_help_names_endpoints_auth_and_an_example() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "skillstream", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    ).stdout
    for needle in (
        "POST /xapi/statements",
        "PUT /xapi/statements?statementId",
        "/learners/KEY/profile",
        "/healthz",
        "/metrics",
        "SKILLSTREAM_HTTP_USERNAME",
        "curl -u",
        "X-Experience-API-Version",
        "Exit 3",
    ):
        assert needle in out, needle


def test_unreachable_kafka_exits_3_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
    from skillstream.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert bootstrap in err
    assert "Traceback" not in err


# --- secure by default (issue 11, item 5) --------------------------------------------------------

DEFAULTED = ["SKILLSTREAM_HTTP_PASSWORD", "SKILLSTREAM_LEARNER_KEY_SECRET"]


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """No SKILLSTREAM_* settings but an unreachable broker: passing the checks is exit 3."""
    for name in list(os.environ):
        if name.startswith("SKILLSTREAM_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    bootstrap = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("COLUMNS", "300")
    return bootstrap


def serve(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from skillstream.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "[::]", "192.168.1.10", "frontdoor.example.com", "fe80::1"]
)
def test_default_credentials_on_a_network_address_exit_2_naming_them(
    serve_env: str, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    code, err = serve(["--host", host], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("error: refusing to listen on")
    for variable in DEFAULTED:
        assert variable in line
    assert "--allow-default-credentials" in line
    assert "change-me" not in line


def test_the_host_setting_is_checked_too(
    serve_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLSTREAM_HTTP_HOST", "0.0.0.0")  # what docker-compose.yml sets
    monkeypatch.setenv("SKILLSTREAM_HTTP_PASSWORD", "a-password-of-our-own")
    code, err = serve([], capsys)
    assert code == 2
    assert "SKILLSTREAM_LEARNER_KEY_SECRET is the built-in default" in err
    assert "SKILLSTREAM_HTTP_PASSWORD" not in err


def test_own_credentials_on_a_network_address_pass(
    serve_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLSTREAM_HTTP_PASSWORD", "a-password-of-our-own")
    monkeypatch.setenv("SKILLSTREAM_LEARNER_KEY_SECRET", "a-learner-key-secret-of-our-own")
    code, err = serve(["--host", "0.0.0.0"], capsys)
    assert code == 3, err  # past the check: the broker is what is missing
    assert serve_env in err


@pytest.mark.parametrize("host", [None, "127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_default_credentials_on_loopback_are_fine(
    serve_env: str, capsys: pytest.CaptureFixture[str], host: str | None
) -> None:
    code, err = serve(["--host", host] if host else [], capsys)
    assert code == 3, err
    assert "WARNING" not in err


def test_allow_default_credentials_starts_with_a_loud_warning(
    serve_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = serve(["--host", "0.0.0.0", "--allow-default-credentials"], capsys)
    assert code == 3, err
    warning = next(line for line in err.splitlines() if "WARNING" in line)
    assert "0.0.0.0" in warning
    for variable in DEFAULTED:
        assert variable in warning


def test_is_loopback() -> None:
    from skillstream.cli.serve_cmd import is_loopback

    assert all(
        map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "a.localhost"])
    )
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com", "", "localhostx"]))


def test_option_defaults_are_the_front_door_constants() -> None:
    import typer

    from skillstream.cli import _register, app
    from skillstream.frontdoor.app import BODY_TIMEOUT_S
    from skillstream.frontdoor.server import HEADER_TIMEOUT_S
    from skillstream.frontdoor.statements import MAX_STATEMENTS

    _register()
    group: Any = typer.main.get_command(app)  # typer ships its own click: no isinstance
    command = group.get_command(type(group).context_class(group), "serve")
    defaults = {p.name: p.default for p in command.params}
    assert defaults["max_statements"] == MAX_STATEMENTS
    assert defaults["header_timeout"] == HEADER_TIMEOUT_S
    assert defaults["body_timeout"] == BODY_TIMEOUT_S
    assert defaults["allow_default_credentials"] is False
