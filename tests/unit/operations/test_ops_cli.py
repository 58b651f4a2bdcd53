"""`skillstream replay|dlq|status|forget` without a broker: help that teaches, and a clear
message with a non-zero exit for every misuse (2) and for an unreachable Kafka (3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillstream.cli import main
from skillstream.operations.cluster import GroupInfo, Member
from skillstream.operations.groups import refusal
from skillstream.settings import load_settings


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
    monkeypatch.setenv("SKILLSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize(
    ("command", "teaches"),
    [
        (
            ["replay"],
            [
                "--from TIMESTAMP|earliest",
                "<group_id>-ingest",
                "outage",
                "--rebuild",
                "<group_id>-profiles-changelog",
                "epoch mismatch",
                "--local-state",
                "exit 2",
                "--dry-run",
                "--wait",
                "Examples",
            ],
        ),
        (["dlq"], ["xapi.statements.dlq", "skillstream dlq list", "reprocess"]),
        (["dlq", "list"], ["error code", "first error", "Example"]),
        (["dlq", "show"], ["base64", "--code", "--partition", "--offset", "--limit", "Examples"]),
        (
            ["dlq", "reprocess"],
            [
                "original bytes",
                "X-Experience-API-Version",
                "--xapi-version",
                "xapi.statements.dlq.reprocessed",
                "--retry",
                "--all",
                "come back",
                "Examples",
            ],
        ),
        (["status"], ["committed offset", "lag", "n/a", "<group_id>-sink-sql", "Examples"]),
        (
            ["forget"],
            [
                "mailto:",
                "sha1:",
                "account:<homePage>|<name>",
                "openid",
                "JSON Agent",
                "--key",
                "learning.events",
                "learner.erased",
                "retention",
                "Examples",
            ],
        ),
    ],
)
def test_help_says_what_when_and_how(
    command: list[str], teaches: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([*command, "--help"], capsys)
    assert code == 0
    for phrase in teaches:
        assert phrase in out, phrase


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["replay"], "say what to replay"),
        (["replay", "--from", "yesterday"], "is not a time skillstream understands"),
        (["replay", "--from", "2999-01-01"], "is in the future"),
        (["replay", "--from", "2h", "--rebuild"], "choose one"),
        (["replay", "--from", "2h", "--local-state", "x"], "--local-state goes with --rebuild"),
        (["replay", "--dry-run"], "say what to replay"),
        (["replay", "--rebuild", "--dry-run", "--wait"], "nothing to --wait for"),
        (["replay", "--wait", "--timeout", "0"], "--timeout"),
        (["replay", "--from", "2h", "--timeout", "5"], "--timeout limits --wait"),
        (["replay", "--form", "2h"], "No such option"),
        (["dlq", "purge"], "No such command"),
        (["dlq", "reprocess"], "say which dead letters to reprocess"),
        (["dlq", "reprocess", "--all", "--code", "ifi"], "--all means every dead letter"),
        (["dlq", "reprocess", "--code", "ifi", "--xapi-version", "3.0.0"], "--xapi-version"),
        (["dlq", "show", "--limit", "0"], "--limit"),
        (["dlq", "show", "--partition", "-1"], "--partition"),
        (["forget"], "name the learner once"),
        (["forget", "ann"], "names no learner"),
        (["forget", "--key", "ann"], "not a learner key"),
        (["forget", "mailto:a@example.com", "--key", "lrn_x"], "name the learner once"),
        (["forget", "mailto:a@example.com", "--timeout", "-1"], "--timeout"),
        (["worker", "--stages", "sinks"], "choose all, ingest or profiles"),
    ],
)
def test_misuse_exits_2_with_a_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert says in err
    assert "Traceback" not in err


def test_dlq_alone_shows_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["dlq"], capsys)
    assert code == 2
    for sub in ("list", "show", "reprocess"):
        assert sub in out


def test_a_rebuild_refuses_a_folder_that_is_not_worker_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("keep me")
    code, _, err = run(["replay", "--rebuild", "--local-state", str(tmp_path / "home")], capsys)
    assert code == 2
    assert "no profiles/ folder" in err
    assert (tmp_path / "home" / "notes.txt").exists()


def test_an_identifier_is_never_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["forget", "mailto:ann smith@example.com"], capsys)
    assert code == 2
    assert "ann smith" not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["dlq", "list"],
        ["dlq", "show"],
        ["dlq", "reprocess", "--all"],
        ["replay", "--from", "earliest"],
        ["replay", "--from", "2026-03-01T08:00:00Z", "--dry-run"],
        ["replay", "--rebuild"],
        ["replay", "--wait"],
        ["forget", "mailto:ann@example.com"],
        ["forget", "--key", "lrn_5q3v7m2k4w6xtzdabc3e5g7ink"],
    ],
)
def test_an_unreachable_broker_exits_3_and_names_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 3, err
    assert "Kafka unavailable" in err
    assert "127.0.0.1:1" in err
    assert "Traceback" not in err


def test_the_refusal_names_each_group_its_members_and_how_to_stop_them() -> None:
    settings = load_settings(group_id="prod")
    message = str(
        refusal(
            [
                GroupInfo("prod-ingest", "Stable", (Member("m1", "aiokafka-1", "/10.0.0.5"),)),
                GroupInfo("prod", "PreparingRebalance", ()),
            ],
            settings,
        )
    )
    assert "group prod-ingest: state Stable, 1 member(s): aiokafka-1@10.0.0.5" in message
    assert "group prod: state PreparingRebalance, no member yet" in message
    assert "SKILLSTREAM_GROUP_ID=prod" in message
    assert "session times out" in message


@pytest.mark.parametrize(
    ("state", "members", "active"),
    [
        ("Empty", 0, False),
        ("Dead", 0, False),
        ("Stable", 1, True),
        ("CompletingRebalance", 0, True),
    ],
)
def test_a_group_is_active_while_anyone_is_in_it(state: str, members: int, active: bool) -> None:
    info = GroupInfo("g", state, tuple(Member(f"m{i}", "c", "h") for i in range(members)))
    assert info.active is active
