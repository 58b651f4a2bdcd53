"""tools/ (simulator, demo, benchmark, fault injection, test broker) stays out of the package.

``skillstream simulate`` runs the simulator from a checkout, ``python -m tools.simulate``
is the same command, and without the source tree the command says where the simulator is.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

from skillstream.cli import main
from tools import simulate
from tools.simulate import Simulation

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_the_packages_pip_installs_leave_tools_out() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = find_packages(str(REPO_ROOT), include=include)
    assert {"skillstream", "schemas", "streams", "sinks"} <= set(shipped)
    assert [p for p in shipped if p.split(".")[0] == "tools"] == []


def test_skillstream_simulate_runs_the_simulator_of_the_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traffic.jsonl"
    code, _ = run(["simulate", "--learners", "3", "--days", "2", "--out", str(out)], capsys)
    assert code == 0
    assert out.read_bytes() == b"".join(line + b"\n" for line in Simulation(3, 2, 1))


def test_python_m_tools_simulate_is_the_same_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traffic.jsonl"
    with pytest.raises(SystemExit) as exited:
        simulate.main(["--learners", "3", "--days", "2", "--seed", "5", "--out", str(out)])
    assert exited.value.code == 0
    assert out.read_bytes() == b"".join(line + b"\n" for line in Simulation(3, 2, 5))
    assert capsys.readouterr().out == ""  # it reports on stderr, like the command


def test_without_the_source_tree_simulate_exits_2_saying_where_the_simulator_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tools.simulate", None)  # as in a wheel or the image
    out = tmp_path / "traffic.jsonl"
    code, err = run(["simulate", "--learners", "3", "--days", "2", "--out", str(out)], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("error: the simulator comes with skillstream's source tree")
    assert "python -m tools.simulate" in line
    assert "Traceback" not in err
    assert not out.exists()
