"""The whole pipeline over TLS and SCRAM: the local broker's SASL_SSL listener.

``infra/kafka/kafka.sh`` serves SASL_SSL beside PLAINTEXT, with a throwaway CA and SCRAM
users created when its storage is formatted (docs/security.md). Every skillstream client
here — topic creation, catalog, publishing, the worker's stages, the SQL sink — reaches
the broker through that listener only (a plaintext client cannot talk to it), and a
wrong password or an untrusted CA stops a command with exit 3 naming the broker and the
cause.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_support import (
    assert_restored,
    fill_changelog,
    prepare,
    publish,
    read_results,
    simulated,
    start_worker,
    wait_caught_up,
)
from sqlalchemy import create_engine, text

from skillstream.settings import Settings
from streams.errors import ServiceUnavailable
from streams.kafka.connection import KafkaConnection
from streams.restore import stream_changelog
from streams.state_store import StateStore
from tools.broker import KAFKA_SCRIPT, Broker
from tools.processes import ManagedProcess, settings_env


@pytest.fixture(scope="session")
def secure(broker: Broker) -> dict[str, str]:
    """What a client needs for the SASL_SSL listener of the broker the tests run on."""
    if broker.origin != "local":
        pytest.skip(f"the broker is {broker.origin}, not the local one with a SASL_SSL listener")
    found = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "secure-env"], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, (
        "the local broker has no SASL_SSL listener: `make kafka-down && make kafka-up` "
        f"starts it with one\n{found.stderr}"
    )
    values = {}
    for line in found.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = value
    return values


def over_tls(settings: Settings, secure: dict[str, str], **changes: str) -> Settings:
    kafka = KafkaConnection(
        bootstrap_servers=secure["KAFKA_SASL_BOOTSTRAP"],
        security_protocol="SASL_SSL",
        sasl_mechanism=changes.get("mechanism", secure["KAFKA_SASL_MECHANISM"]),  # type: ignore[arg-type]
        sasl_username=secure["KAFKA_SASL_USERNAME"],
        sasl_password=changes.get("password", secure["KAFKA_SASL_PASSWORD"]),  # type: ignore[arg-type]
        ssl_cafile=Path(changes.get("cafile", secure["KAFKA_SSL_CAFILE"])),
    )
    return settings.model_copy(update={"kafka": kafka})


def skillstream(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run(
        [str(Path(sys.executable).parent / "skillstream"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_pipeline_runs_over_sasl_ssl(
    settings: Settings, secure: dict[str, str], tmp_path: Path, sqlite_url: str
) -> None:
    tls = over_tls(settings, secure).model_copy(update={"database_url": sqlite_url})
    records = simulated(learners=20, days=45, seed=41)
    await prepare(tls)
    await publish(tls, records)
    worker = start_worker(tls, tmp_path)
    try:
        await wait_caught_up(tls, len(records), [worker], timeout=180)
        assert worker.running, worker.log_tail()
        stream = await read_results(tls)
    finally:
        worker.stop()
    assert stream.milestone_ids, "the workload should produce milestones"
    assert stream.profiles
    sink = ManagedProcess(
        "sink-sql",
        ["sink", "sql", "--upgrade", "--until-caught-up"],
        settings_env(tls),
        tmp_path / "sink.log",
    ).start()
    assert sink.wait_exit(180) == 0, sink.log_tail()
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        rows = {r[0] for r in conn.execute(text("SELECT id FROM milestones"))}
    engine.dispose()
    assert rows == stream.milestone_ids


def test_scram_sha_512_works_too(settings: Settings, secure: dict[str, str]) -> None:
    done = skillstream(over_tls(settings, secure, mechanism="SCRAM-SHA-512"), "topics", "create")
    assert done.returncode == 0, done.stderr


def test_a_wrong_password_exits_3_naming_the_broker_and_the_cause(
    settings: Settings, secure: dict[str, str]
) -> None:
    done = skillstream(over_tls(settings, secure, password="not-the-password"), "topics", "create")
    assert done.returncode == 3, done.stderr
    assert secure["KAFKA_SASL_BOOTSTRAP"] in done.stderr
    assert "refused the SCRAM-SHA-256 credentials of user 'skillstream'" in done.stderr
    assert "not-the-password" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_an_untrusted_certificate_exits_3_naming_the_broker_and_the_cause(
    settings: Settings, secure: dict[str, str]
) -> None:
    untrusted = secure["KAFKA_SSL_UNTRUSTED_CAFILE"]
    done = skillstream(over_tls(settings, secure, cafile=untrusted), "worker")
    assert done.returncode == 3, done.stderr
    assert secure["KAFKA_SASL_BOOTSTRAP"] in done.stderr
    assert f"the broker's TLS certificate is not trusted by {untrusted}" in done.stderr
    assert "Traceback" not in done.stderr


async def test_profile_state_restores_over_sasl_ssl(
    settings: Settings, secure: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    """The restore reads the changelog with librdkafka, not aiokafka: the same connection
    settings reach the SASL_SSL listener through it too."""
    tls = over_tls(settings, secure).kafka
    topic = f"t{run_id}-restore-tls"
    ends, final = await fill_changelog(tls, topic)
    store = StateStore(tmp_path / "tls")
    try:
        todo = {p: (0, end) for p, end in ends.items()}
        assert await asyncio.wait_for(stream_changelog(tls, topic, store, todo), 60) == 1200
        assert_restored(store, final, ends)
    finally:
        store.close()


@pytest.mark.parametrize("wrong", ["password", "cafile"])
async def test_a_refused_restore_names_the_broker_and_the_cause(
    settings: Settings, secure: dict[str, str], run_id: str, tmp_path: Path, wrong: str
) -> None:
    topic = f"t{run_id}-restore-refused-{wrong}"
    ends, _ = await fill_changelog(over_tls(settings, secure).kafka, topic)
    changes = {"password": "not-the-password", "cafile": secure["KAFKA_SSL_UNTRUSTED_CAFILE"]}
    refused = over_tls(settings, secure, **{wrong: changes[wrong]}).kafka
    store = StateStore(tmp_path / "refused")
    try:
        todo = {p: (0, end) for p, end in ends.items()}
        with pytest.raises(ServiceUnavailable) as raised:
            await asyncio.wait_for(stream_changelog(refused, topic, store, todo), 60)
    finally:
        store.close()
    message = str(raised.value)
    assert secure["KAFKA_SASL_BOOTSTRAP"] in message
    expected = {
        "password": "refused the SCRAM-SHA-256 credentials of user 'skillstream'",
        "cafile": f"the broker's TLS certificate is not trusted by {changes['cafile']}",
    }
    assert expected[wrong] in message
    assert "not-the-password" not in message
