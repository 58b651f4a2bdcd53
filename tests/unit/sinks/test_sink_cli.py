"""`skillstream sink` and `skillstream db` without a broker: help, misuse, services down."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillstream.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture(autouse=True)
def no_broker_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", f"sqlite:///{tmp_path / 'sink.db'}")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize(
    ("command", "teaches"),
    [
        (
            "sql",
            [
                "career.milestones",
                "learner.profiles",
                "learner.erased",
                "<group_id>-sink-sql",
                "skillstream sink reset sql",
                "--group",
                "skillstream db upgrade",
            ],
        ),
        (
            "webhook",
            [
                "career.milestones",
                "<group_id>-sink-webhook",
                "SKILLSTREAM_WEBHOOKS",
                "Skillstream-Signature",
                "Retry-After",
                "skillstream sink reset webhook",
            ],
        ),
    ],
)
def test_help_says_what_a_sink_reads_its_group_and_how_to_replay(
    command: str, teaches: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["sink", command, "--help"], capsys)
    assert code == 0
    for phrase in teaches:
        assert phrase in out, phrase
    assert "--until-caught-up" in out


def test_an_unreachable_broker_exits_3_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["sink", "sql", "--until-caught-up"], capsys)
    assert code == 3
    assert "Kafka unavailable: no broker answers at 127.0.0.1:1" in err
    assert "Traceback" not in err


def test_the_webhook_sink_without_subscribers_says_how_to_add_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["sink", "webhook"], capsys)
    assert code == 2
    assert "SKILLSTREAM_WEBHOOKS" in err


def test_resetting_an_unknown_sink_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["sink", "reset", "kafka"], capsys)
    assert code == 2
    assert "choose sql or webhook" in err


def test_db_upgrade_creates_the_sqlite_folder_and_is_safe_to_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "deep" / "er" / "skillstream.db"
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", f"sqlite:///{target}")

    code, out, _ = run(["db", "upgrade"], capsys)
    assert code == 0
    assert "schema revision none -> 0001" in out
    assert target.exists()

    code, out, _ = run(["db", "upgrade"], capsys)
    assert code == 0
    assert "up to date (schema revision 0001)" in out


def test_db_upgrade_on_an_unreachable_server_exits_3_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "SKILLSTREAM_DATABASE_URL", "postgresql://sink:s3cr3t@127.0.0.1:1/skillstream"
    )
    code, _, err = run(["db", "upgrade"], capsys)
    assert code == 3
    assert "database postgresql+psycopg://sink:***@127.0.0.1:1/skillstream unavailable" in err
    assert "s3cr3t" not in err


def test_a_database_url_that_is_not_one_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", "not a url")
    code, _, err = run(["db", "upgrade"], capsys)
    assert code == 2
    assert "not a SQLAlchemy URL" in err


def test_without_a_terminal_the_status_is_printed_when_waiting_starts_and_ends() -> None:
    from io import StringIO

    from rich.console import Console

    from sinks.runner import Progress
    from skillstream.cli.sink_cmd import _StatusLine

    out = StringIO()
    status = _StatusLine(Console(file=out, force_terminal=False, width=300), every_s=3600)
    progress = Progress(sink="sql", group="skillstream-sink-sql", consumed=10, written=10)
    with status:
        status(progress)  # the first line
        status(progress)  # nothing new: quiet
        progress.waiting = "database sqlite:///x.db unavailable: locked"
        status(progress)
        status(progress)
        progress.waiting = None
        status(progress)
    lines = out.getvalue().splitlines()
    assert sum("consumed 10  written 10" in line for line in lines) == 3
    assert (
        sum("waiting: database sqlite:///x.db unavailable: locked" in line for line in lines) == 1
    )
