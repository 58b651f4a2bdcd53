"""docker-compose.yml runs commands that exist, and Docker Compose accepts the file."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from skillstream.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _skillstream_commands() -> list[list[str]]:
    out = []
    for name, service in COMPOSE["services"].items():
        if service.get("image") != "skillstream:dev":
            continue
        command = service.get("command")
        if isinstance(command, list) and service.get("entrypoint") is None:
            out.append(command)
        elif name == "init":
            for part in command[0].split("&&"):
                words = shlex.split(part)
                assert words[0] == "skillstream"
                out.append(words[1:])
    return out


def test_services_cover_the_stack() -> None:
    services = set(COMPOSE["services"])
    assert {
        "kafka",
        "postgres",
        "worker",
        "sink-sql",
        "sink-webhook",
        "frontdoor",
        "init",
    } <= services
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")


@pytest.mark.parametrize("command", _skillstream_commands(), ids=" ".join)
def test_each_service_runs_a_real_command(command: list[str]) -> None:
    _register()
    words = [w for w in command if not w.startswith("/")]
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], check=False, capture_output=True
        ).returncode
    ):
        pytest.skip("the docker compose plugin is not installed here")
    result = subprocess.run(
        [
            docker,
            "compose",
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--profile",
            "webhook",
            "config",
            "-q",
        ],
        check=False,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "SKILLSTREAM_HTTP_PASSWORD": "a-password-for-the-check",
            "SKILLSTREAM_LEARNER_KEY_SECRET": "a-learner-key-secret-for-the-check",
        },
    )
    assert result.returncode == 0, result.stderr
