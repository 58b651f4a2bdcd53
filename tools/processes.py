"""Starting and stopping skillstream's own processes (worker, sinks) from the demo,
the benchmark and the tests — each with its own environment and log file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from pydantic import BaseModel, SecretStr

from skillstream.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_ALWAYS = frozenset(
    (
        "kafka",
        "topics",
        "group_id",
        "store",
        "data_dir",
        "database_url",
        "xapi_version",
        "learner_key_secret",
        "log_format",
        "log_level",
    )
)
"""Settings written even at their defaults: what a child must never take from elsewhere."""


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load exactly ``settings``: every setting
    not left at its default (and those of ``_ALWAYS``), secrets revealed, models as JSON.
    The child must not inherit the parent's ``SKILLSTREAM_*`` variables
    (``ManagedProcess`` drops them)."""
    env: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or (
            name not in _ALWAYS and value == field.get_default(call_default_factory=True)
        ):
            continue
        plain = _plain(value)
        env[f"SKILLSTREAM_{name.upper()}"] = (
            plain
            if isinstance(plain, str)
            else str(plain)
            if isinstance(plain, int | float) and not isinstance(plain, bool)
            else orjson.dumps(plain).decode()
        )
    return env


def _plain(value: object) -> object:
    """A setting's value as the environment spells it: secrets revealed, models as JSON."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` now (Linux: its ``SigCgt`` mask);
    False where that cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


class ManagedProcess:
    """One ``skillstream …`` child process with its log in a file."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLSTREAM_")}
        full_env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        full_env.update(self.env)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skillstream", *self.args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit — a crash."""
        if self.proc is not None and self.running:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None:
            return None
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stacks(self, timeout: float = 30.0) -> str:
        """Where a process that stopped making progress waits: every asyncio task's stack
        (a running worker prints them to its log on SIGUSR1, as mode's workers do; asked
        only of a process that handles the signal) and every thread's (``py-spy dump``,
        installed with the dev extras; it answers even when the event loop itself is
        blocked). A line saying why for what cannot be given."""
        if self.proc is None or not self.running:
            return f"{self.name}: not running"
        if catches(self.proc.pid, signal.SIGUSR1):
            before = self.log_path.stat().st_size if self.log_path.exists() else 0
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(2.0)
            with self.log_path.open("rb") as log:
                log.seek(before)
                tasks = log.read().decode(errors="replace").strip()
        else:  # a worker pool's parent, or a worker still starting: SIGUSR1 would end it
            tasks = f"{self.name}: no task stacks (it does not handle SIGUSR1 now)"
        spy = Path(sys.executable).with_name("py-spy")
        if not spy.exists():
            return f"{tasks}\n{self.name}: no thread stacks (py-spy is not beside {sys.executable})"
        try:
            done = subprocess.run(
                [str(spy), "dump", "--pid", str(self.proc.pid)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{tasks}\n{self.name}: no thread stacks ({exc})"
        return f"{tasks}\n{(done.stdout + done.stderr).strip()}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self.proc.returncode
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} still running after {timeout}s")


def serving(processes: list[dict[str, list[int]]], partitions: int = 0) -> bool:
    """Whether the stages of a worker's processes (each one's ``/healthz`` stage ->
    partitions served; a pool's processes all run the same stages) all serve. Without
    ``partitions``: some in every stage of every process. Given ``partitions``: each
    stage's all served, and shared out as the groups' round-robin assignment shares them
    once every process has joined (none holds more than its share; a process not in the
    groups yet would take partitions from the others when it joins). A pool of more
    processes than partitions leaves some without."""
    if not processes or not all(processes):
        return False
    if not partitions:
        return all(all(held.values()) for held in processes)
    share = -(-partitions // len(processes))
    stages = {stage for held in processes for stage in held}
    return all(
        len({p for held in processes for p in held.get(stage, ())}) >= partitions
        and all(len(held.get(stage, ())) <= share for held in processes)
        for stage in stages
    )


async def wait_assigned(
    worker: ManagedProcess, processes: int = 1, timeout: float = 90.0, partitions: int = 0
) -> None:
    """Until each of the worker's ``processes`` (a pool's process ``i`` serves on the web port
    plus ``i``) answers ``/healthz`` with its tables loaded and each of its stages serving
    partitions (the profile stage's restored) — or, given ``partitions`` (a pool may have
    more processes than partitions), until each stage serves that many between them: past
    their start-up checks, in the groups, and processing. A test that disturbs the broker or
    the group waits for this first, so that how fast a loaded machine starts a process does
    not decide what the test sees, nor how long a benchmark's clock runs before the worker
    can serve."""
    port = int(worker.env["SKILLSTREAM_WORKER_WEB_PORT"])
    deadline = time.monotonic() + timeout
    held: dict[int, dict[str, list[int]]] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not worker.running:
                raise RuntimeError(f"{worker.name} exited:\n{worker.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{worker.name}: not serving with partitions after {timeout:.0f} s "
                    f"(process -> stage -> partitions: {held})\n{worker.log_tail()}"
                )
            for i in range(processes):
                try:
                    answer = await client.get(f"http://127.0.0.1:{port + i}/healthz")
                except httpx.HTTPError:
                    continue
                if answer.status_code == 200:
                    held[i] = answer.json()["serving_partitions"]
            if len(held) == processes and serving(list(held.values()), partitions):
                return
            await asyncio.sleep(0.3)
