"""``skillstream serve``: help that teaches, and exit 3 when Kafka cannot be reached."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


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
