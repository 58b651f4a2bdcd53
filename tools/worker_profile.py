"""Where a worker's event loop spends its time, from a py-spy profile of a ``make bench`` run.

``make bench`` runs the pipeline once more with py-spy sampling the worker process
(``py-spy record --threads --format raw``), keeps the samples of the main thread (the
event loop: both stages, their Kafka clients' Python side, the flushes) taken inside the
stages' batch loops, and puts each in the area of the innermost function it recognises
(``AREAS``). Each sample stands for the main thread's CPU time (read from ``/proc``
just before the worker is stopped) over all its samples; an area's samples over the
statements give µs of main-thread CPU per statement: the worker-side counterpart of the
offline core's figures, for choosing the next lever and showing what one changed.

py-spy samples by pausing the process briefly, so this run is not one of the timed ones.
It needs to be allowed to read another process's memory (``ptrace``; as root, or with
``kernel.yama.ptrace_scope`` 0); when it is not, the bench says why and goes on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Final

RATE: Final = 250
"""Samples per second."""

LOOP: Final = "BatchLoop._run"
"""A sample is the stages' work when this function is on its stack (start-up and
shutdown are not)."""

AREAS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("validate", "xAPI validation, Python paths", ("validate_statement",)),
    (
        "ingest",
        "native ingest, parse, normalize, the rest",
        ("NativeIngest", "parse_statement", "normalize", "IngestHandler", "Ingest"),
    ),
    ("events_out", "learning.events encoding", ("encode_learner_records",)),
    (
        "events_in",
        "learning.events decoding",
        ("decode_learner_events", "DecodeMemo", "ProfileStage._group"),
    ),
    ("core", "profile core and milestone rules", ("Profiles.apply_batch", "apply_each")),
    ("flush", "flush: snapshots and state encoding", ("ProfileStage.flush",)),
    ("profiles", "profile stage, the rest", ("ProfileStage",)),
    ("store", "state store (RocksDB)", ("StateStore",)),
    ("produce", "Kafka produce (librdkafka, Python side)", ("RdProducer",)),
    ("consume", "Kafka consume (librdkafka, Python side)", ("RdConsumer",)),
    ("loop", "batch loop, commits, event loop", ()),
)
"""(key, label, the functions that make a sample the area's): a name with a dot is one
function; a name without one, every method of that class and the function of that name.
The innermost function of a sample that any area names decides; ``loop`` takes the rest.

py-spy sees Python frames only: a compiled module's functions (``make compile``) count
in the area of their nearest Python caller, and so does the native module. The native
ingest, parsing, normalizing and ``Ingest.record`` itself are compiled, and called from
the ingest stage's handler (``IngestHandler``), so they make one area with the rest of
the ingest stage; the validation area is what the native
paths decline, validated in Python;
``bench_areas`` (the offline steps, each timed alone) still gives each its own figure."""

ALL: Final = "all"
"""The key ``attribute`` counts every sample of the thread under."""

_EXACT: Final = {name: key for key, _, names in AREAS for name in names if "." in name}
_OWNERS: Final = {name: key for key, _, names in AREAS for name in names if "." not in name}


def area_of(frames: list[str]) -> str:
    """The area of one sample's stack (function names, outermost first)."""
    for name in reversed(frames):
        key = _EXACT.get(name) or _OWNERS.get(name) or _OWNERS.get(name.split(".", 1)[0])
        if key is not None:
            return key
    return "loop"


def function_names(line: str) -> tuple[str, list[str], int]:
    """One line of py-spy's raw output as (thread id, function names outermost first,
    count).

    A line is ``frame;frame;... count``, a frame ``function (file:line)``; with
    ``--threads`` a frame ``thread (id)`` or ``thread (id): name`` comes first (after a
    ``process ...`` frame when py-spy follows subprocesses)."""
    stack, _, count = line.rstrip("\n").rpartition(" ")
    thread = ""
    names: list[str] = []
    for frame in stack.split(";"):
        if frame.startswith("process "):
            continue
        if frame.startswith("thread ("):
            thread = frame[len("thread (") :].partition(")")[0]
            continue
        names.append(frame.split(" (", 1)[0])
    return thread, names, int(count)


def attribute(lines: Iterable[str], pid: int) -> Counter[str]:
    """Samples per area of the main thread of process ``pid`` (on Linux its thread id is
    the pid) inside the batch loops, and under ``ALL`` every sample of that thread
    (start-up and shutdown included)."""
    main = str(pid)
    areas: Counter[str] = Counter()
    for line in lines:
        if not line.strip():
            continue
        thread, frames, count = function_names(line)
        if thread != main:
            continue
        areas[ALL] += count
        if LOOP in frames:  # only what the loop called: a stage's own run() wraps its loop
            inner = frames[len(frames) - frames[::-1].index(LOOP) :]
            areas[area_of(inner)] += count
    return areas


def us_per_statement(
    areas: Counter[str], statements: int, thread_cpu_s: float | None = None
) -> dict[str, float]:
    """µs of CPU per statement by area, in the order of ``AREAS``, and their ``total``.

    A sample stands for ``1 / RATE`` s, or, given the thread's CPU time over the whole
    recording, for that time over all its samples: py-spy counts a thread that waits
    for a core as busy, so on a box whose cores are all taken the samples alone
    overstate the CPU."""
    seconds = 1 / RATE
    if thread_cpu_s is not None and areas.get(ALL):
        seconds = thread_cpu_s / areas[ALL]
    figures = {key: areas.get(key, 0) * seconds / statements * 1e6 for key, _, _ in AREAS}
    figures["total"] = sum(figures.values())
    return figures


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds the main thread of process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def py_spy() -> str | None:
    """The py-spy program installed beside this Python (the dev extra), else on the path."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_recording(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` into ``out`` until the process ends."""
    program = py_spy()
    if program is None:
        raise FileNotFoundError("py-spy is not installed (it comes with the dev extra)")
    out.unlink(missing_ok=True)
    command = [program, "record", "--pid", str(pid), "--rate", str(RATE), "--threads"]
    command += ["--format", "raw", "--output", str(out)]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def finish_recording(recorder: subprocess.Popen[bytes], out: Path) -> list[str]:
    """The recorded lines once py-spy has written them (it stops when the process ends);
    ``RuntimeError`` with py-spy's own words when it recorded nothing."""
    try:
        said, _ = recorder.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        said, _ = recorder.communicate()
    if not out.exists() or out.stat().st_size == 0:
        words = (said or b"").decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(words[-1] if words else f"py-spy exited with {recorder.returncode}")
    return out.read_text().splitlines()
