"""make bench's worker profile: py-spy's raw lines put in areas, and the areas in µs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.worker_profile import (
    ALL,
    AREAS,
    RATE,
    area_of,
    attribute,
    finish_recording,
    function_names,
    main_thread_cpu_s,
    start_recording,
    us_per_statement,
)

PID = 41
PROCESS = f'process {PID}:"python -m skillstream worker --processes 1"'
MAIN = f"thread ({PID}): MainThread"
LOOP = ["BatchLoop.run (streams/kafka/batch_loop.py:259)", "BatchLoop._run (x.py:267)"]


def line(frames: list[str], count: int, thread: str = MAIN) -> str:
    return ";".join([PROCESS, thread, "_run_module_as_main (<frozen runpy>:198)", *frames]) + (
        f" {count}"
    )


def test_a_raw_line_gives_its_thread_functions_and_count() -> None:
    thread, names, count = function_names(
        line([*LOOP, "Ingest.record (streams/pipeline.py:101)"], 7) + "\n"
    )
    assert thread == str(PID)
    assert names == ["_run_module_as_main", "BatchLoop.run", "BatchLoop._run", "Ingest.record"]
    assert count == 7


def test_the_innermost_function_an_area_names_decides() -> None:
    ingest = ["IngestHandler.process", "Ingest.record", "parse_statement"]
    assert area_of(ingest) == "ingest"
    assert area_of(["BatchLoop._process", "parse_statement"]) == "ingest"
    assert area_of([*ingest, "validate_statement", "_check"]) == "validate"
    assert area_of(["ProfileStage.process", "ProfileStage._process"]) == "profiles"
    assert area_of(["ProfileStage._process", "Profiles.apply_batch"]) == "core"
    assert area_of(["ProfileStage._process", "ProfileStage._group"]) == "events_in"
    assert area_of(["BatchLoop._send", "RdProducer.send_many"]) == "produce"
    assert area_of(["BatchLoop._run", "BatchLoop._complete_oldest"]) == "loop"


def test_only_the_main_threads_samples_inside_the_batch_loops_are_put_in_areas() -> None:
    lines = [
        line([*LOOP, "Ingest.record (p.py:1)", "normalize (n.py:2)"], 5),
        line([*LOOP, "ProfileStage.flush (s.py:3)", "snapshot_json (c.py:4)"], 3),
        line(["Worker.execute_from_commandline (w.py:1)", "_find_and_load (i:1)"], 11),
        line([*LOOP, "RdConsumer.getmany (c.py:9)"], 2, thread="thread (42): rdconsumer_0"),
        line([*LOOP, "normalize (n.py:2)"], 4, thread="thread (43)"),
        "",
    ]
    lines.append(line(["ProfileStage.run (s.py:1)", *LOOP, "BatchLoop._start (b.py:2)"], 6))
    areas = attribute(lines, PID)
    assert areas["loop"] == 6  # the stage's run() is outside its loop: not the stage's work
    assert areas["ingest"] == 5
    assert areas["flush"] == 3
    assert areas[ALL] == 25  # start-up counts towards the thread's samples, not an area
    assert "consume" not in areas  # other threads, named or not


def test_areas_in_microseconds_per_statement() -> None:
    lines = [line([*LOOP, "Profiles.apply_batch (p.py:1)"], 500), line([*LOOP], 250)]
    areas = attribute(lines, PID)
    by_rate = us_per_statement(areas, 1_000)
    assert by_rate["core"] == pytest.approx(500 / RATE / 1_000 * 1e6)
    assert by_rate["loop"] == pytest.approx(250 / RATE / 1_000 * 1e6)
    assert by_rate["total"] == pytest.approx(by_rate["core"] + by_rate["loop"])
    assert set(by_rate) == {key for key, _, _ in AREAS} | {"total"}
    # with the thread's CPU time: 750 samples were 1.5 s, 2 ms each
    by_cpu = us_per_statement(areas, 1_000, thread_cpu_s=1.5)
    assert by_cpu["core"] == pytest.approx(500 * 0.002 / 1_000 * 1e6)
    assert by_cpu["total"] == pytest.approx(1.5 / 1_000 * 1e6)


def test_every_area_has_a_key_and_a_label_once() -> None:
    keys = [key for key, _, _ in AREAS]
    assert len(keys) == len(set(keys))
    named = [name for _, _, names in AREAS for name in names]
    assert len(named) == len(set(named))


def test_the_main_threads_cpu_time_is_read_and_grows_with_work() -> None:
    before = main_thread_cpu_s(os.getpid())
    total = 0
    give_up = time.monotonic() + 20
    while main_thread_cpu_s(os.getpid()) < before + 0.2 and time.monotonic() < give_up:
        total += sum(range(10_000))
    assert main_thread_cpu_s(os.getpid()) >= before + 0.2
    assert total > 0


PROGRAM = """
import time


def normalize(n):
    return sum(i * i for i in range(n))


class BatchLoop:
    def _run(self):
        end = time.process_time() + 2.0
        while time.process_time() < end:
            normalize(5_000)


BatchLoop()._run()
"""


def test_py_spy_records_a_process_and_its_samples_land_in_an_area(tmp_path: Path) -> None:
    """The py-spy command line and its output format, as make bench uses them."""
    script = tmp_path / "busy.py"
    script.write_text(PROGRAM)
    child = subprocess.Popen([sys.executable, str(script)])
    out = tmp_path / "profile.raw"
    try:
        recorder = start_recording(child.pid, out)
        child.wait(timeout=60)
        try:
            lines = finish_recording(recorder, out)
        except RuntimeError as exc:
            if "ermission" in str(exc):
                pytest.skip(f"py-spy may not read other processes here: {exc}")
            raise
    finally:
        child.kill()
        child.wait()
    areas = attribute(lines, child.pid)
    assert areas[ALL] > RATE  # about two seconds of samples
    assert areas["ingest"] > areas[ALL] / 2
