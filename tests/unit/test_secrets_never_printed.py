"""Secrets planted in every setting that can hold one never appear in any command's output.

Every leaf command runs (with a broker and a database that do not answer, so each one
meets an error path too) under several plantings: a database URL with a password in its
user info, with an unencoded ``@`` in it, with ``?password=`` in its query; a webhook
secret in valid and in malformed JSON; the HTTP password and the learner-key secret.
Standard output, standard error and every log record are scanned for each secret.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_cli_misuse import COMMANDS, run

from skillstream.settings import ENV_PREFIX

SECRETS = ("Sq3cretA1", "Sq3cretB2", "Sq3cretC3", "Sq3cretD4", "Sq3cretE5", "Sq3cretF6")

PLANTINGS: dict[str, dict[str, str]] = {
    "password in the database URL": {
        "DATABASE_URL": f"postgresql+psycopg://sink:{SECRETS[0]}@127.0.0.1:1/skillstream",
    },
    "unencoded @ in the database password": {
        "DATABASE_URL": f"postgresql+psycopg://sink:pa@{SECRETS[1]}@127.0.0.1:1/skillstream",
    },
    "password in the database URL's query": {
        "DATABASE_URL": f"postgresql+psycopg://sink@127.0.0.1:1/skillstream?password={SECRETS[2]}",
    },
    "webhook secret, valid JSON": {
        "WEBHOOKS": (
            f'[{{"name": "crm", "url": "https://crm.example.com/hooks", "secret": "{SECRETS[3]}"}}]'
        ),
    },
    "webhook secret, malformed JSON": {
        "WEBHOOKS": f'[{{"name": "crm", "url": "https://crm.example.com", "secret": "{SECRETS[4]}"',
    },
    "HTTP password and learner-key secret": {
        "HTTP_PASSWORD": f"{SECRETS[5]}-password",
        "LEARNER_KEY_SECRET": f"{SECRETS[5]}-learner-key-secret",
    },
}


@pytest.mark.parametrize("planting", list(PLANTINGS))
def test_no_command_prints_a_planted_secret(
    planting: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv(f"{ENV_PREFIX}KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv(f"{ENV_PREFIX}DATA_DIR", str(tmp_path / "state"))
    for name, value in PLANTINGS[planting].items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    statements = tmp_path / "statements.jsonl"
    statements.write_text("{}\n")
    paths = {"statements": str(statements), "out": str(tmp_path / "out")}
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("skillstream.sinks")]
    # Only pytest's capturing handlers: others may write to streams of earlier tests.
    handlers = [
        [h for h in logger.handlers if type(h).__module__.startswith("_pytest")]
        for logger in loggers
    ]
    leaks = []
    for command, args in COMMANDS.items():
        for logger, kept in zip(loggers, handlers, strict=True):
            logger.handlers[:] = kept  # what a command set up for its own stderr goes with it
        given = args if args is not None else [str(tmp_path / "schemas")]
        argv = [*command, *[a.format(**paths) for a in given]]
        code, out, err = run(argv, capsys)
        seen = out + err + "\n".join(r.getMessage() for r in caplog.records)
        caplog.clear()
        leaks += [f"{' '.join(command)} (exit {code}): {s}" for s in SECRETS if s in seen]
        assert "Traceback" not in out + err, f"{' '.join(command)}: {err}"
    assert leaks == []
