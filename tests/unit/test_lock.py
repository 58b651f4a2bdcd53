"""The lock files agree with pyproject.toml, so `make install` installs what the ranges allow.

A dependency added to pyproject.toml without `make lock`, or a range moved past a pinned
version, fails here rather than on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.M)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for package, version in PIN.findall(text):
        found.setdefault(canonicalize_name(package), version)
    return found


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    lines += PYPROJECT["build-system"]["requires"]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"), [("lock.txt", ("dev", "postgres")), ("runtime.txt", ("postgres",))]
)
def test_every_declared_requirement_is_pinned_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    for requirement in declared(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements/{lock}: run make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pinned[name]} outside {requirement}: run make lock"
        )


def test_every_pin_carries_a_hash() -> None:
    text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_runtime_lock_takes_the_same_versions_as_the_development_lock() -> None:
    full, runtime = pins("lock.txt"), pins("runtime.txt")
    assert set(runtime) <= set(full)
    assert {name: full[name] for name in runtime} == runtime


def test_the_supported_pythons_are_the_classifiers_and_the_dockerfile() -> None:
    project = PYPROJECT["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    classified = {
        c.rsplit(" ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert classified == {"3.11", "3.12", "3.13"}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG PYTHON_VERSION=3.13" in dockerfile
