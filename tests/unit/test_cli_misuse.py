"""Every command, run with a bad value of every setting it reads, exits 2 with one line.

The line names the environment variable and what it allows, never a traceback, and never
repeats a value that may hold a secret. Every leaf command is in ``COMMANDS`` and every
setting in ``BAD``, so a new command or setting cannot skip this.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from schemas.topology import Topics
from skillstream.cli import _register, app, main
from skillstream.settings import ENV_PREFIX, Settings

LEAK = "pw-leak-7f3a"


def leaf_commands() -> list[tuple[str, ...]]:
    _register()
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "list_commands"):  # a group (typer ships its own click)
            context = type(command).context_class(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(typer.main.get_command(app), ())
    return found


COMMANDS: dict[tuple[str, ...], list[str] | None] = {
    ("forget",): ["mailto:ann@example.com", "--no-wait"],
    ("offline",): ["{statements}", "--out", "{out}"],
    ("publish",): ["{statements}"],
    ("simulate",): ["--learners", "2", "--days", "2", "--publish"],
    ("replay",): ["--from", "earliest", "--dry-run"],
    ("serve",): [],
    ("status",): [],
    ("worker",): [],
    ("learner-key",): ["ann@example.com"],
    ("catalog", "load"): [],
    ("catalog", "gaps"): ["--from", "{statements}"],
    ("catalog", "import"): None,  # reads no settings: it turns files into a catalog file
    ("dlq", "list"): [],
    ("dlq", "show"): [],
    ("dlq", "reprocess"): ["--all", "--dry-run"],
    ("sink", "sql"): [],
    ("sink", "webhook"): [],
    ("sink", "reset"): ["sql"],
    ("db", "upgrade"): [],
    ("topics", "create"): [],
    ("schemas", "export"): None,  # reads no settings: it writes the contracts
}
"""Each leaf command with arguments that are fine, so that settings are what fails."""


def bad_values(tmp: Path) -> dict[str, str]:
    a_file = tmp / "a-file"
    a_file.write_text("x")
    topic_names = set(Topics.model_fields) - {"partitions", "replication_factor"}
    bad = {
        "KAFKA__BOOTSTRAP_SERVERS": "broker-without-port",
        "KAFKA__CLIENT_ID": "has space",
        "KAFKA__REQUEST_TIMEOUT_MS": "10",
        "KAFKA__SECURITY_PROTOCOL": "TLS",
        "KAFKA__SASL_MECHANISM": "GSSAPI",
        "KAFKA__SASL_USERNAME": "skillstream",  # set while security_protocol is PLAINTEXT
        "KAFKA__SASL_PASSWORD": LEAK,  # likewise
        "KAFKA__SSL_CAFILE": str(tmp / "missing-ca.pem"),
        "KAFKA__SSL_CERTFILE": str(tmp),
        "KAFKA__SSL_KEYFILE": str(tmp / "missing-key.pem"),
        "KAFKA__SSL_CHECK_HOSTNAME": "maybe",
        "TOPICS__PARTITIONS": "abc",
        "TOPICS__REPLICATION_FACTOR": "0",
        "GROUP_ID": "a group",
        "STORE": "redis://",
        "DATA_DIR": str(a_file),
        "RULES_FILE": str(tmp / "missing-rules.yaml"),
        "CATALOG_FILE": str(tmp),
        "VOCABULARY_FILE": str(tmp / "missing-vocabulary.yaml"),
        "XAPI_VERSION": "3.0.0",
        "LEARNER_KEY_SECRET": LEAK,
        "DATABASE_URL": f"mysql://sink:{LEAK}@db/skillstream",
        "WEBHOOKS": f'[{{"name": "crm", "url": "https://crm.example.com", "secret": "{LEAK}"',
        "SINKS__BATCH_SIZE": "0",
        "SINKS__BATCH_WAIT_MS": "-1",
        "SINKS__RETRY_INITIAL_S": "soon",
        "SINKS__RETRY_MAX_S": "0",
        "SINKS__SHUTDOWN_GRACE_S": "-5",
        "SINKS__WEBHOOK_TIMEOUT_S": "0",
        "SINKS__WEBHOOK_MAX_ELAPSED_S": "-1",
        "SINKS__WEBHOOK_CONCURRENCY": "many",
        "HTTP_HOST": "",
        "HTTP_PORT": "abc",
        "HTTP_USERNAME": "has:colon",
        "HTTP_PASSWORD": LEAK[:7],
        "INGEST_BATCH": "0",
        "PROFILE_BATCH": "-3",
        "BATCH_BUDGET_MS": "0",
        "PROFILE_FLUSH_MS": "-1",
        "PROFILE_CACHE": "lots",
        "WORKER_WEB_PORT": "70000",
        "WORKER_STAGES": "both",
        "WORKER_PROCESSES": "0",
        "WORKER_WEB_HOST": "",
        "LOG_FORMAT": "xml",
        "LOG_LEVEL": "loud",
    }
    bad.update({f"TOPICS__{name.upper()}": "no spaces allowed" for name in topic_names})
    return {ENV_PREFIX + name: value for name, value in bad.items()}


SECRETS = {
    "SKILLSTREAM_KAFKA__SASL_PASSWORD",
    "SKILLSTREAM_LEARNER_KEY_SECRET",
    "SKILLSTREAM_DATABASE_URL",
    "SKILLSTREAM_WEBHOOKS",
    "SKILLSTREAM_HTTP_PASSWORD",
}
"""Settings whose bad values hold ``LEAK``, which must never be printed."""


def every_setting() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= {f"{ENV_PREFIX}{name}__{sub}".upper() for sub in kind.model_fields}
        else:
            names.add(f"{ENV_PREFIX}{name}".upper())
    return names


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name in list(__import__("os").environ):
        if name.startswith(ENV_PREFIX) or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")
    statements = tmp_path / "statements.jsonl"
    statements.write_text("{}\n")
    return {"statements": str(statements), "out": str(tmp_path / "out")}


def test_every_leaf_command_is_in_the_table() -> None:
    assert set(leaf_commands()) == set(COMMANDS)


def test_every_setting_has_a_bad_value(tmp_path: Path) -> None:
    assert set(bad_values(tmp_path)) == every_setting()


@pytest.mark.parametrize("command", [c for c, a in COMMANDS.items() if a is not None], ids=" ".join)
def test_a_bad_value_of_any_setting_exits_2_with_one_line_naming_it(
    command: tuple[str, ...],
    clean_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    args = [a.format(**clean_env) for a in COMMANDS[command] or []]
    failures = []
    for variable, value in sorted(bad_values(tmp_path).items()):
        with monkeypatch.context() as env:
            env.setenv(variable, value)
            code, out, err = run([*command, *args], capsys)
        lines = err.strip().splitlines()
        problem = None
        if code != 2:
            problem = f"exit {code}"
        elif len(lines) != 1 or not lines[0].startswith("error: invalid settings: "):
            problem = f"not one error line: {err!r}"
        elif variable not in lines[0]:
            problem = f"does not name it: {lines[0]}"
        elif "Traceback" in out + err:
            problem = "traceback"
        elif variable in SECRETS and (LEAK if LEAK in value else value) in out + err:
            problem = f"repeats a secret: {lines[0]}"
        elif variable not in SECRETS and repr(value)[:40] not in lines[0]:
            problem = f"does not show the value: {lines[0]}"
        if problem:
            failures.append(f"{variable}={value!r}: {problem}")
    assert failures == []


def test_kafka_bootstrap_servers_is_checked_too(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "nohost")
    code, _, err = run(["status"], capsys)
    assert code == 2
    assert err.strip() == (
        "error: KAFKA_BOOTSTRAP_SERVERS: should be host:port[,host:port…] "
        "(e.g. 127.0.0.1:9092), not 'nohost'"
    )


def test_several_bad_settings_are_all_named_on_one_line(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKILLSTREAM_HTTP_PORT", "abc")
    monkeypatch.setenv("SKILLSTREAM_LOG_FORMAT", "xml")
    code, _, err = run(["status"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "SKILLSTREAM_HTTP_PORT='abc': input should be a valid integer" in line
    assert "SKILLSTREAM_LOG_FORMAT='xml': input should be 'json' or 'human'" in line


def test_a_command_that_reads_no_settings_ignores_them(
    clean_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for variable, value in bad_values(tmp_path).items():
        monkeypatch.setenv(variable, value)
    code, out, _ = run(["schemas", "export", str(tmp_path / "contracts")], capsys)
    assert code == 0
    assert "milestone-event.v1.schema.json" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["offline", "/nonexistent/s.jsonl", "--out", "{out}"],
            "statements file /nonexistent/s.jsonl does not exist",
        ),
        (["offline", "{tmp}", "--out", "{out}"], "is not a file"),
        (
            ["offline", "{statements}", "--out", "/proc/no/such"],
            "--out /proc/no/such cannot be created",
        ),
        (["offline", "{statements}", "--out", "{statements}"], "exists and is not a folder"),
        (
            ["publish", "/nonexistent/s.jsonl"],
            "statements file /nonexistent/s.jsonl does not exist",
        ),
        (
            ["catalog", "load", "/nonexistent/catalog.yaml"],
            "catalog file /nonexistent/catalog.yaml does not exist",
        ),
    ],
)
def test_a_bad_path_exits_2_naming_it(
    argv: list[str],
    expected: str,
    clean_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, _, err = run([a.format(tmp=tmp_path, **clean_env) for a in argv], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("error: ")
    assert expected in line


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        ("unwritable", "for the SQLite database cannot be created"),
        ("not-a-database", "exists and is not a SQLite database"),
        ("folder", "is a folder, not a SQLite database file"),
    ],
)
def test_a_sqlite_path_that_cannot_hold_the_database_exits_2(
    prepare: str,
    expected: str,
    clean_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    if prepare == "unwritable":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the folder should be")
        target = blocker / "sub" / "sink.db"
    elif prepare == "not-a-database":
        target = tmp_path / "notes.db"
        target.write_text("meeting notes, not a database")
    else:
        target = tmp_path / "a-folder.db"
        target.mkdir()
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", f"sqlite:///{target}")
    code, _, err = run(["db", "upgrade"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert re.match(r"error: SKILLSTREAM_DATABASE_URL: ", line)
    assert expected in line


def test_every_leaf_command_has_an_example_in_its_help(
    clean_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = []
    for command in leaf_commands():
        code, out, _ = run([*command, "--help"], capsys)
        assert code == 0
        if not re.search(
            r"Examples?: +skillstream|Examples?: +\S+=\S* +skillstream|Example: +curl|Examples?: .*skillstream",
            out,
        ):
            missing.append(" ".join(command))
    assert missing == []
