"""`skillstream sink` and `skillstream db` without a broker: help, misuse, services down."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from sinks.runner import Progress
from skillstream.cli import main
from skillstream.cli.sink_cmd import _StatusLine


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
    assert "SKILLSTREAM_DATABASE_URL: is not a database URL" in err


class FakeClock:
    """Seconds since an arbitrary origin, moved by the test: a host up for 0.5 s, or for days."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def status_line(clock: FakeClock, every_s: float = 10.0) -> tuple[_StatusLine, StringIO]:
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=300)
    return _StatusLine(console, every_s=every_s, clock=clock), out


@pytest.mark.parametrize("uptime_s", [0.5, 3.0, 86_400.0 * 40])
def test_without_a_terminal_the_status_is_printed_when_waiting_starts_and_ends(
    uptime_s: float,
) -> None:
    clock = FakeClock(uptime_s)
    status, out = status_line(clock, every_s=3600)
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


def test_without_a_terminal_the_last_line_holds_the_final_figures() -> None:
    clock = FakeClock(1.0)
    status, out = status_line(clock, every_s=10)
    progress = Progress(sink="sql", group="g", clock=clock)
    with status:
        for _ in range(30):  # 30 batches within 3 s: one line at the start, none after
            clock.now += 0.1
            progress.consumed += 500
            progress.written += 500
            status(progress)
        assert out.getvalue().count("consumed") == 1
    last = out.getvalue().splitlines()[-1]
    assert "consumed 15,000  written 15,000" in last


def test_without_a_terminal_changing_figures_print_at_most_every_interval() -> None:
    clock = FakeClock(2.0)
    status, out = status_line(clock, every_s=10)
    progress = Progress(sink="sql", group="g", clock=clock)
    with status:
        for _ in range(100):  # 100 s of one batch a second
            clock.now += 1
            progress.consumed += 1
            status(progress)
        for _ in range(50):  # then idle: nothing new to say
            clock.now += 1
            status(progress)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 11
    assert "consumed 100 " in lines[-1]


def test_a_caught_up_sink_says_so_once() -> None:
    clock = FakeClock(0.0)
    status, out = status_line(clock, every_s=3600)
    progress = Progress(sink="sql", group="g", clock=clock)
    with status:
        status(progress)
        progress.caught_up = True
        progress.lag = 0
        status(progress)
        status(progress)
    assert len(out.getvalue().splitlines()) == 2


def test_progress_elapsed_time_runs_on_the_injected_clock() -> None:
    clock = FakeClock(5.0)
    progress = Progress(sink="sql", group="g", clock=clock)
    clock.now = 12.5
    assert progress.elapsed_s == 7.5
