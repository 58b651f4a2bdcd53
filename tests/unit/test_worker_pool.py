"""``skillstream worker --processes N``: the pool of worker processes, with real child processes.

The children are small Python scripts that behave as a worker would (run until
SIGTERM, crash, exit with a usage error); the pool's clock is injected, so a
restart's backoff takes no wall time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from skillstream.worker_pool import WorkerPool, process_data_dir
from streams.restore import cores

# A stand-in worker: notes its start in $OUT/<index>.starts, then does what $MODE says.
CHILD = r"""
import os, signal, sys, time
out, index = os.environ["OUT"], os.environ["INDEX"]
mode = os.environ.get("MODE_" + index, "run")
def stop(signum, frame):
    open(os.path.join(out, index + ".stopped"), "w").write(str(signum))
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else stop)
# Noted once the process handles SIGTERM, so a test that waits for it never races a start.
with open(os.path.join(out, index + ".starts"), "a") as f:
    f.write(f"{os.getpid()}\n")
if mode.startswith("exit"):  # once process 0 is up, so that it has something to stop
    while index != "0" and not os.path.exists(os.path.join(out, "0.starts")):
        time.sleep(0.01)
    sys.exit(int(mode[4:]))
if mode == "crash-once" and sum(1 for _ in open(os.path.join(out, index + ".starts"))) == 1:
    sys.exit(1)
from skillstream.worker_pool import follow_pool
follow_pool()
while True:
    time.sleep(0.05)
"""


class FakeClock:
    """Advances a second per supervision step, so backoffs pass at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        time.sleep(0.02)
        self.now += 1.0


def pool(tmp_path: Path, processes: int, modes: dict[int, str], **kw: float) -> WorkerPool:
    clock = FakeClock()

    def env_of(i: int) -> dict[str, str]:
        env = {"OUT": str(tmp_path), "INDEX": str(i)}
        env.update({f"MODE_{k}": v for k, v in modes.items()})
        return env

    return WorkerPool(
        [sys.executable, "-c", CHILD],
        processes,
        env_of,
        clock=clock,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


def starts(tmp_path: Path, index: int) -> list[int]:
    path = tmp_path / f"{index}.starts"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def signal_when(condition, signum: int = signal.SIGTERM, timeout: float = 20.0) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Send ``signum`` to this process (the pool's) once ``condition()`` holds."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            time.sleep(0.02)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_runs_n_processes_each_with_its_own_environment_and_stops_them_all(
    tmp_path: Path,
) -> None:
    p = pool(tmp_path, 3, {})
    signal_when(lambda: all(starts(tmp_path, i) for i in range(3)))
    assert p.run() == 0
    for i in range(3):
        assert len(starts(tmp_path, i)) == 1
        assert (tmp_path / f"{i}.stopped").read_text() == str(int(signal.SIGTERM))


def test_a_process_that_dies_is_started_again_and_the_others_keep_running(
    tmp_path: Path,
) -> None:
    p = pool(tmp_path, 2, {1: "crash-once"})
    signal_when(lambda: len(starts(tmp_path, 1)) == 2 and os.path.exists(tmp_path / "0.starts"))
    assert p.run() == 0
    assert len(starts(tmp_path, 0)) == 1  # untouched by its sibling's crash
    assert len(starts(tmp_path, 1)) == 2
    assert (tmp_path / "1.stopped").exists()


@pytest.mark.parametrize("code", [2, 3])
def test_a_usage_or_connection_error_stops_the_pool_with_its_code(
    tmp_path: Path, code: int
) -> None:
    p = pool(tmp_path, 2, {1: f"exit{code}"})
    assert p.run() == code
    assert len(starts(tmp_path, 1)) == 1  # not started again: it would fail the same way
    assert (tmp_path / "0.stopped").exists()


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    p = pool(tmp_path, 1, {0: "stubborn"}, stop_timeout_s=0.5)
    signal_when(lambda: bool(starts(tmp_path, 0)))
    began = time.monotonic()
    assert p.run() == 0
    assert time.monotonic() - began < 15
    [pid] = starts(tmp_path, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_children_stop_when_the_pool_itself_is_killed(tmp_path: Path) -> None:
    """A pool killed outright (SIGKILL) leaves no worker process behind."""
    script = (
        "import sys; from skillstream.worker_pool import WorkerPool;"
        f"WorkerPool([sys.executable, '-c', {CHILD!r}], 2,"
        f" lambda i: {{'OUT': {str(tmp_path)!r}, 'INDEX': str(i)}}).run()"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(starts(tmp_path, i) for i in range(2)):
        time.sleep(0.05)
    parent.kill()
    parent.wait()
    # A child creates its file, then writes the signal into it: wait for the text, not for
    # the file alone (read in between, it is empty).
    while time.monotonic() < deadline and not all(
        (tmp_path / f"{i}.stopped").is_file() and (tmp_path / f"{i}.stopped").read_text()
        for i in range(2)
    ):
        time.sleep(0.05)
    for i in range(2):
        assert (tmp_path / f"{i}.stopped").read_text() == str(int(signal.SIGTERM))


def test_process_zero_keeps_the_data_dir_and_the_others_get_their_own(tmp_path: Path) -> None:
    assert process_data_dir(tmp_path, 0) == tmp_path
    assert process_data_dir(tmp_path, 1) == tmp_path / "process-1"
    assert process_data_dir(tmp_path, 1) != process_data_dir(tmp_path, 2)


def test_the_default_is_one_process_per_usable_core() -> None:
    assert cores() == len(os.sched_getaffinity(0))
