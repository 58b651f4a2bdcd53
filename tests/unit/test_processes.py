"""The test processes' helpers: whether a process handles a signal, before it is sent."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.processes import catches, serving

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)"
)

HANDLES = (
    "import signal, sys, time; signal.signal(signal.SIGUSR1, lambda *_: None); "
    "print('ready', flush=True); time.sleep(30)"
)
IGNORES = "import sys, time; print('ready', flush=True); time.sleep(30)"


@pytest.mark.parametrize(("code", "handled"), [(HANDLES, True), (IGNORES, False)])
def test_whether_a_process_handles_sigusr1(code: str, handled: bool) -> None:
    """What ``ManagedProcess.stacks`` asks before sending SIGUSR1: a process without a
    handler (a worker pool's parent, a worker still starting) would be ended by it."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        assert catches(proc.pid, signal.SIGUSR1) is handled
        assert catches(proc.pid, signal.SIGTERM) is False  # Python leaves SIGTERM alone
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_is_gone_handles_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    time.sleep(0.1)
    assert catches(proc.pid, signal.SIGUSR1) is False


@pytest.mark.parametrize(
    ("processes", "partitions", "expected"),
    [
        ([], 0, False),  # no process answered yet
        ([{}], 0, False),  # a process running no stage serves nothing
        ([{"ingest": [0], "profiles": [1]}], 0, True),
        ([{"ingest": [0, 1], "profiles": []}], 0, False),  # the profile stage still restoring
        ([{"ingest": [0]}, {"ingest": []}], 0, False),  # one of two processes has none
        ([{"ingest": [0, 1], "profiles": [0, 1]}, {"ingest": [2, 3], "profiles": [2, 3]}], 4, True),
        ([{"ingest": [0, 1, 2, 3], "profiles": [0, 1]}, {"ingest": [], "profiles": [2]}], 4, False),
        ([{"ingest": [0, 1, 2, 3]}, {}], 4, False),
        # the second process not in the groups yet: it would take partitions when it joins
        (
            [{"ingest": [0, 1, 2, 3], "profiles": [0, 1, 2, 3]}, {"ingest": [], "profiles": []}],
            4,
            False,
        ),
        # more processes than partitions, one holding all: the others have not joined yet
        (
            [
                {"ingest": [0, 1, 2, 3]},
                {"ingest": []},
                {"ingest": []},
                {"ingest": []},
                {"ingest": []},
            ],
            4,
            False,
        ),
        # more processes than partitions: some are left without
        (
            [
                {"ingest": [0], "profiles": [0]},
                {"ingest": [1], "profiles": [1]},
                {"ingest": [], "profiles": []},
            ],
            2,
            True,
        ),
    ],
)
def test_when_a_worker_serves(
    processes: list[dict[str, list[int]]], partitions: int, expected: bool
) -> None:
    """``wait_assigned``'s test over ``/healthz``'s ``serving_partitions`` of each process."""
    assert serving(processes, partitions) is expected
