"""``skillstream worker --processes N``: one worker process per core, in one consumer group.

Python runs one thread of Python at a time, so one worker process uses one
core. The pool starts N worker processes (``skillstream worker --processes
1``) that join the stages' consumer groups like any other worker: Kafka hands
each a share of the partitions, and a process that stops hands its share to
the others. The pool itself holds no Kafka client and no state; it

* gives each process its own state folder and web port: process 0 keeps
  ``SKILLSTREAM_DATA_DIR`` and the web port (so ``--processes 1`` is exactly
  a single worker), process *i* uses ``<data dir>/process-<i>`` and port + *i*;
* forwards SIGTERM/SIGINT to every process and waits for them to stop
  (SIGKILL after ``stop_timeout_s``);
* starts a process that died again, with backoff (1 s doubling to 30 s; back
  to 1 s after a minute up), so one crash does not leave a core idle; a
  process that exits with a usage or connection error (exit 2 or 3) stops the
  pool with that code, since starting it again would fail the same way.

The pool is plain processes and signals, so it is tested with real child
processes (``tests/unit/test_worker_pool.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

FATAL_EXIT_CODES = frozenset({2, 3})
"""Exit codes a restart cannot fix: bad settings or usage (2), Kafka unreachable (3)."""


def process_data_dir(data_dir: Path, index: int) -> Path:
    """Where process ``index`` of a pool keeps its state."""
    return data_dir if index == 0 else data_dir / f"process-{index}"


@dataclass
class _Child:
    index: int
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay_s: float = 1.0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class WorkerPool:
    """N copies of one command, supervised (see the module docstring).

    ``command`` is the argv of one process; ``env_of(i)`` the variables that
    differ for process ``i``. ``clock`` and ``sleep`` are injectable for tests.
    """

    command: Sequence[str]
    processes: int
    env_of: Callable[[int], dict[str, str]]
    stop_timeout_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _children: list[_Child] = field(default_factory=list)
    _stopping: int | None = None

    def run(self) -> int:
        """Run until a signal (then 0) or a process's fatal exit (then its code)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            base = dict(os.environ)
            self._children = [
                _Child(i, list(self.command), {**base, **self.env_of(i)})
                for i in range(self.processes)
            ]
            for child in self._children:
                self._start(child)
            code = self._supervise()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children if c.proc is not None]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping is None:
            self._stopping = 0
            return
        # A second signal while stopping: do not wait for the processes any longer.
        self._stopping = 128 + signum
        for child in self._children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.kill()

    def _start(self, child: _Child) -> None:
        child.proc = subprocess.Popen(
            child.argv, env={**child.env, POOL_PID_ENV: str(os.getpid())}, stdin=subprocess.DEVNULL
        )
        child.started_at = self.clock()
        child.restart_at = None
        log.info("worker process %d started (pid %d)", child.index, child.proc.pid)

    def _supervise(self) -> int:
        while self._stopping is None:
            now = self.clock()
            for child in self._children:
                if child.proc is None:
                    if child.restart_at is not None and now >= child.restart_at:
                        child.restarts += 1
                        self._start(child)
                    continue
                code = child.proc.poll()
                if code is None:
                    continue
                child.proc = None
                if code in FATAL_EXIT_CODES:
                    log.error(
                        "worker process %d exited with %d (a usage or connection error); "
                        "stopping the pool",
                        child.index,
                        code,
                    )
                    return code
                if now - child.started_at > 60:
                    child.delay_s = 1.0
                log.warning(
                    "worker process %d exited with %d; starting it again in %.0fs",
                    child.index,
                    code,
                    child.delay_s,
                )
                child.restart_at = now + child.delay_s
                child.delay_s = min(child.delay_s * 2, 30.0)
            self.sleep(0.2)
        return self._stopping

    def _stop_all(self) -> None:
        running = [c.proc for c in self._children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = self.clock() + self.stop_timeout_s
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()


POOL_PID_ENV = "SKILLSTREAM_POOL_PID"
"""Set by the pool for its processes: the pid of the pool they belong to."""


def follow_pool() -> None:
    """Called by a worker process at start: if a pool started it, stop with the pool.

    On Linux the process asks for SIGTERM when its parent dies, so a pool
    killed outright (SIGKILL, out of memory) leaves no worker behind; if the
    pool died before that request, the process stops at once. Done in the
    child itself rather than between fork and exec, which is unsafe in a
    process with threads.
    """
    pool_pid = os.environ.get(POOL_PID_ENV)
    if not pool_pid or sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(pool_pid):
        os.kill(os.getpid(), signal.SIGTERM)


def worker_command(options: Sequence[str]) -> list[str]:
    """The argv of one worker process of a pool, with the pool's other options."""
    return [sys.executable, "-m", "skillstream", "worker", "--processes", "1", *options]
