"""The front door as a real HTTP server on the real broker: what is accepted is on the topic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from aiokafka import ConsumerRecord
from frontdoor_builders import PASSWORD, USERNAME, V1, V2, learner, new_id, statement
from frontdoor_server import RunningServer, free_port, start_server

from sinks.database import upgrade
from skillstream.kafka_io import read_to_end
from skillstream.publishing import partition_key
from skillstream.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]


def topic_records(settings: Settings) -> list[ConsumerRecord]:
    async def read() -> list[ConsumerRecord]:
        return [r async for r in read_to_end(settings.kafka, settings.topics.statements)]

    return asyncio.run(read())


def test_accepted_statements_are_on_the_topic_with_header_and_key(
    server: RunningServer, settings: Settings, auth: tuple[str, str]
) -> None:
    batch = [statement(actor=learner(i % 7)) for i in range(100)]
    put_id = new_id()
    with httpx.Client(base_url=server.url, auth=auth) as client:
        one = client.post("/xapi/statements", json=statement(), headers=V2)
        many = client.post("/xapi/statements", json=batch, headers=V1)
        put = client.put(f"/xapi/statements?statementId={put_id}", json=statement(), headers=V2)
    assert one.status_code == 200, one.text
    assert many.status_code == 200, many.text
    assert put.status_code == 204, put.text
    ids = one.json() + many.json() + [put_id]
    records = topic_records(settings)
    assert sorted(orjson.loads(r.value)["id"] for r in records) == sorted(ids)
    secret = settings.learner_secret_bytes
    versions = {}
    for record in records:
        value = orjson.loads(record.value)
        assert record.key == partition_key(record.value, secret)
        assert record.key is not None
        versions[value["id"]] = dict(record.headers)["X-Experience-API-Version"]
    assert versions[one.json()[0]] == b"2.0.0"
    assert {versions[i] for i in many.json()} == {b"1.0.3"}
    assert versions[put_id] == b"2.0.0"
    by_learner: dict[bytes, set[int]] = {}
    for record in records:
        by_learner.setdefault(record.key, set()).add(record.partition)
    assert all(len(partitions) == 1 for partitions in by_learner.values())


def test_refused_batch_puts_nothing_on_the_topic(
    server: RunningServer, settings: Settings, auth: tuple[str, str]
) -> None:
    with httpx.Client(base_url=server.url, auth=auth) as client:
        response = client.post(
            "/xapi/statements", json=[statement(), statement(verb=None)], headers=V2
        )
        accepted = client.post("/xapi/statements", json=statement(), headers=V2)
    assert response.status_code == 400
    assert response.json()["problems"][0]["index"] == 1
    assert [orjson.loads(r.value)["id"] for r in topic_records(settings)] == accepted.json()


def test_healthz_checks_kafka_and_the_database(settings: Settings) -> None:
    running = start_server(settings)
    try:
        # The first check starts the producer within the 2 s the check allows; on a busy
        # machine that can take longer, and /healthz then truly says Kafka did not answer.
        deadline = time.monotonic() + 30
        before = httpx.get(f"{running.url}/healthz")
        while not before.json()["kafka"]["ok"] and time.monotonic() < deadline:
            time.sleep(0.5)
            before = httpx.get(f"{running.url}/healthz")
        upgrade(settings.database_url)
        after = httpx.get(f"{running.url}/healthz")
    finally:
        running.stop()
    assert before.status_code == 503
    assert before.json()["kafka"]["ok"] is True
    assert "no skillstream tables" in before.json()["database"]["detail"]
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "ok"
    assert settings.topics.statements in after.json()["kafka"]["detail"]


def test_skillstream_serve_runs_until_sigterm(settings: Settings) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SKILLSTREAM_TOPICS__STATEMENTS": settings.topics.statements,
        "SKILLSTREAM_TOPICS__STATEMENTS_DLQ": settings.topics.statements_dlq,
        "SKILLSTREAM_TOPICS__EVENTS": settings.topics.events,
        "SKILLSTREAM_TOPICS__CATALOG": settings.topics.catalog,
        "SKILLSTREAM_TOPICS__MILESTONES": settings.topics.milestones,
        "SKILLSTREAM_TOPICS__PROFILES": settings.topics.profiles,
        "SKILLSTREAM_TOPICS__MILESTONES_DLQ": settings.topics.milestones_dlq,
        "SKILLSTREAM_TOPICS__ERASED": settings.topics.erased,
        "SKILLSTREAM_DATABASE_URL": settings.database_url,
        "SKILLSTREAM_HTTP_USERNAME": USERNAME,
        "SKILLSTREAM_HTTP_PASSWORD": PASSWORD,
        "SKILLSTREAM_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "skillstream", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "skillstream serve did not answer in 60s"
                time.sleep(0.1)
        response = httpx.post(
            f"http://127.0.0.1:{port}/xapi/statements",
            json=statement(),
            headers=V2,
            auth=(USERNAME, PASSWORD),
        )
        assert response.status_code == 200, response.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal: the conventional exit by SIGTERM
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete." in err
    lines = [orjson.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "skillstream.frontdoor.access"]
    post = next(line for line in access if line["method"] == "POST")
    assert post["path"] == "/xapi/statements"
    assert post["status"] == 200
    assert post["statements"] == 1
    assert post["duration_ms"] > 0
    assert [orjson.loads(r.value)["id"] for r in topic_records(settings)] == response.json()
