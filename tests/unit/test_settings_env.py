"""``tools.processes.settings_env``: a child process loads exactly the parent's settings.

Tests, the demo and ``make bench`` start ``skillstream`` processes with an environment that
holds nothing from the parent's ``SKILLSTREAM_*`` variables but what ``settings_env`` writes,
so a setting it left out would silently run the child on its default (a bench once measured
a batch budget its workers never had).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from skillstream.settings import Settings, load_settings
from tools.processes import settings_env


def loaded_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("SKILLSTREAM_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_every_setting_changed_reaches_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        kafka={
            "bootstrap_servers": "broker.example.com:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "skillstream",
            "sasl_password": "kafka-secret",
        },
        batch_budget_ms=25,
        profile_flush_ms=200,
        ingest_batch=77,
        profile_batch=33,
        worker_processes=2,
        worker_stages="profiles",
        http_password=SecretStr("http-secret-1"),
        data_dir=Path("/var/lib/skillstream"),
        webhooks=[
            {"name": "hr", "url": "https://hooks.example.com/m", "secret": "hook-secret-123"}
        ],
    )
    child = loaded_from(settings_env(settings), monkeypatch)
    assert child == settings
    assert child.kafka.sasl_password is not None
    assert child.kafka.sasl_password.get_secret_value() == "kafka-secret"
    assert child.http_password.get_secret_value() == "http-secret-1"
    assert child.webhooks[0].secret.get_secret_value() == "hook-secret-123"


def test_defaults_stay_out_of_the_environment() -> None:
    env = settings_env(load_settings(kafka={"bootstrap_servers": "h:1"}))
    assert "SKILLSTREAM_BATCH_BUDGET_MS" not in env
    assert "SKILLSTREAM_WORKER_PROCESSES" not in env


@pytest.mark.parametrize("tls", [False, True])
def test_a_connection_round_trips(
    tls: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = {"bootstrap_servers": "broker.example.com:9093"}
    if tls:
        for name in ("ca.pem", "client.pem", "client.key"):
            (tmp_path / name).write_text("-----BEGIN-----\n", encoding="ascii")
        kafka |= {
            "security_protocol": "SSL",
            "ssl_cafile": str(tmp_path / "ca.pem"),
            "ssl_certfile": str(tmp_path / "client.pem"),
            "ssl_keyfile": str(tmp_path / "client.key"),
        }
    settings = load_settings(kafka=kafka)
    assert loaded_from(settings_env(settings), monkeypatch) == settings
