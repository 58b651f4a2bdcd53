"""The front door recovers from a broker restart under load (issue 11, item 3).

The tester's fault: `make kafka-down; make kafka-up` while an LMS posts, after which every
POST answered 503 ``OutOfOrderSequenceNumber`` until the process was restarted, while
/healthz said Kafka was fine. Here a broker of the test's own (its own folder and ports;
the shared broker other tests use is never touched) is stopped and started again, data
kept, with ``infra/kafka/kafka.sh``, while client threads POST to a real ``skillstream
serve`` process. Asserted: during the outage POSTs answer 503 within the publish timeout
(never a hang, never a 500) and /healthz says Kafka is unavailable; soon after the broker
is back POSTs answer 200 and /healthz is ok; every statement answered 200 is on the topic.

The quick variant restarts once (under a minute, most of it the JVM starting); ``make
chaos`` runs a longer one that also kills the broker with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from frontdoor_builders import PASSWORD, USERNAME, V2, learner, new_id, statement

from sinks.database import upgrade
from skillstream.kafka_io import read_to_end
from skillstream.settings import Settings, Topics, load_settings
from tools.broker import KAFKA_SCRIPT, REPO_ROOT
from tools.processes import ManagedProcess, free_port, settings_env

PUBLISH_TIMEOUT_S = 2.0
SLACK_S = 2.5
"""What a request may take beyond the publish timeout (validation, scheduling)."""
RECOVERY_S = 30.0
"""How long after the broker is back POSTs and /healthz must be fine again."""
CLIENTS = 4


def free_ports(count: int) -> int:
    """A port followed by ``count - 1`` free ones (kafka.sh puts the controller and the
    SASL listener on the next ports)."""
    for _ in range(200):
        port = free_port()
        if port + count > 65536:
            continue
        sockets = [socket.socket() for _ in range(count)]
        try:
            for offset, sock in enumerate(sockets):
                sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return port
    raise RuntimeError(f"no {count} free neighbouring ports")


class OwnBroker:
    """A single-node broker in ``home`` on ``port``, run by infra/kafka/kafka.sh."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "SKILLSTREAM_KAFKA_HOME": str(home),
            "SKILLSTREAM_KAFKA_PORT": str(port),
            "SKILLSTREAM_KAFKA_HEAP": "512m",
        }
        shared_jars = REPO_ROOT / ".local" / "kafka" / "lib"
        home.mkdir(parents=True, exist_ok=True)
        if (shared_jars / ".pom.sha256").exists():  # the jars only; kafka.sh fetches otherwise
            (home / "lib").symlink_to(shared_jars)

    def _run(self, action: str) -> None:
        done = subprocess.run(
            ["bash", str(KAFKA_SCRIPT), action],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert done.returncode == 0, f"kafka.sh {action}: {done.stderr[-2000:]}"

    def up(self) -> None:
        self._run("up")

    def down(self) -> None:
        self._run("down")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, no final producer-state snapshot."""
        pid = int((self.home / "broker.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    if shutil.which("java") is None:
        pytest.skip("a broker of the test's own needs Java 17+ (infra/kafka/kafka.sh)")
    home = tmp_path_factory.mktemp("own-kafka")
    broker = OwnBroker(home, free_ports(3))
    broker.up()
    try:
        yield broker
    finally:
        broker.down()


@dataclass
class Answer:
    started: float
    ended: float
    status: int
    ids: list[str]
    text: str


class Load:
    """Client threads POSTing small batches with their own ids until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post, args=(n,), daemon=True) for n in range(CLIENTS)
        ]

    def _post(self, n: int) -> None:
        with httpx.Client(
            base_url=self.url, auth=(USERNAME, PASSWORD), timeout=PUBLISH_TIMEOUT_S + 10
        ) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                batch = [statement(actor=learner(n * 1_000_000 + i), id=new_id()) for _ in range(3)]
                ids = [s["id"] for s in batch]
                started = time.monotonic()
                try:
                    response = client.post("/xapi/statements", json=batch, headers=V2)
                    status, text = response.status_code, response.text[:300]
                except httpx.HTTPError as exc:
                    status, text = -1, repr(exc)
                with self._lock:
                    self.answers.append(Answer(started, time.monotonic(), status, ids, text))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PUBLISH_TIMEOUT_S + 15)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def wait_for(self, what: str, ok: object, within_s: float) -> float:
        """Wait (bounded) until ``ok()`` holds; the time it took."""
        started = time.monotonic()
        while not ok():  # type: ignore[operator]
            assert time.monotonic() - started < within_s, f"{what} not within {within_s}s"
            time.sleep(0.1)
        return time.monotonic() - started


def health(url: str) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{url}/healthz", timeout=10)
    return response.status_code, response.json()


def start_serve(settings: Settings, tmp: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    env = {
        **settings_env(settings),
        "SKILLSTREAM_HTTP_USERNAME": USERNAME,
        "SKILLSTREAM_HTTP_PASSWORD": PASSWORD,
    }
    serve = ManagedProcess(
        "serve",
        ["serve", "--port", str(port), "--publish-timeout", str(PUBLISH_TIMEOUT_S)],
        env,
        tmp / "serve.log",
    ).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/xapi/about", timeout=1)
            return serve, url
        except httpx.TransportError:
            assert serve.running, serve.log_tail()
            assert time.monotonic() < deadline, "skillstream serve did not answer in 60s"
            time.sleep(0.1)


def topic_ids(bootstrap: str, topic: str) -> set[str]:
    async def read() -> set[str]:
        return {orjson.loads(r.value)["id"] async for r in read_to_end(bootstrap, topic)}

    return asyncio.run(read())


def run_restarts(own_broker: OwnBroker, tmp_path: Path, run_id: str, kills: list[bool]) -> None:
    settings = load_settings(
        kafka={"bootstrap_servers": own_broker.bootstrap},
        topics=Topics(partitions=4).prefixed(f"r{run_id}.").model_dump(),
        database_url=f"sqlite:///{tmp_path / 'frontdoor.db'}",
        data_dir=tmp_path / "worker",
    )
    upgrade(settings.database_url)  # so /healthz can say "ok" when Kafka is fine
    serve, url = start_serve(settings, tmp_path)
    outages: list[tuple[float, float]] = []
    outage_health: list[tuple[int, dict[str, object]]] = []
    recoveries: list[float] = []
    try:
        with Load(url) as load:
            for kill in kills:
                before = len([a for a in load.snapshot() if a.status == 200])
                load.wait_for(
                    "200s before the outage",
                    lambda b=before: len([a for a in load.snapshot() if a.status == 200]) >= b + 20,
                    within_s=30,
                )
                if kill:
                    own_broker.kill()
                else:
                    own_broker.down()
                down_at = time.monotonic()
                # Long enough for whole requests to start and end while the broker is away.
                while time.monotonic() - down_at < PUBLISH_TIMEOUT_S + SLACK_S:
                    outage_health.append(health(url))
                    time.sleep(0.5)
                up_from = time.monotonic()
                own_broker.up()
                back_at = time.monotonic()
                outages.append((down_at, up_from))

                def recovered(back: float = back_at) -> bool:
                    fine = [a for a in load.snapshot() if a.started >= back and a.status == 200]
                    return bool(fine) and health(url)[0] == 200

                recoveries.append(load.wait_for("recovery", recovered, within_s=RECOVERY_S))
                steady_from = time.monotonic() + 1.0
                load.wait_for(
                    "steady 200s after recovery",
                    lambda s=steady_from: time.monotonic() > s + 2.0,
                    within_s=10,
                )
                steady = [a for a in load.snapshot() if a.started >= steady_from]
                assert steady, "no request after recovery"
                assert {a.status for a in steady} == {200}, [
                    (a.status, a.text) for a in steady if a.status != 200
                ][:5]
                status, body = health(url)
                assert status == 200, body
                assert body["status"] == "ok"
        answers = load.snapshot()
    finally:
        code = serve.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    replaced = log.count("gave up (")
    print(
        f"\n[restart] recovery after the broker was back: {[f'{r:.1f}s' for r in recoveries]}; "
        f"producer replacements: {replaced}; answers: {len(answers)}"
    )
    assert code in (0, -signal.SIGTERM), serve.log_tail()

    # Never a hang, never a 500: 200 or 503, each within the publish timeout and some slack.
    assert {a.status for a in answers} <= {200, 503}, [
        (a.status, a.text) for a in answers if a.status not in (200, 503)
    ][:5]
    slowest = max(a.ended - a.started for a in answers)
    assert slowest < PUBLISH_TIMEOUT_S + SLACK_S, f"a request took {slowest:.1f}s"
    for down_at, up_from in outages:
        inside = [a for a in answers if a.started >= down_at + 0.5 and a.ended <= up_from]
        assert inside, "no request started and ended while the broker was away"
        assert {a.status for a in inside} == {503}, [(a.status, a.text) for a in inside][:5]
    assert outage_health, "/healthz was not asked during an outage"
    for status, body in outage_health:
        assert status == 503, body
        assert body["kafka"]["ok"] is False, body  # type: ignore[index]
    assert "Traceback" not in log

    # Nothing answered 200 is lost.
    acknowledged = {i for a in answers if a.status == 200 for i in a.ids}
    assert acknowledged
    missing = acknowledged - topic_ids(own_broker.bootstrap, settings.topics.statements)
    assert not missing, f"{len(missing)} statements answered 200 are not on the topic"


def test_front_door_recovers_from_a_broker_restart_under_load(
    own_broker: OwnBroker, tmp_path: Path, run_id: str
) -> None:
    run_restarts(own_broker, tmp_path, run_id, kills=[False])


@pytest.mark.slow
def test_front_door_recovers_from_repeated_restarts_and_crashes(
    own_broker: OwnBroker, tmp_path: Path, run_id: str
) -> None:
    run_restarts(own_broker, tmp_path, run_id, kills=[False, True, False, True])
