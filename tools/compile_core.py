"""``make compile``: build skillstream's hot modules with mypyc.

    .venv/bin/python -m tools.compile_core          # build into build/compiled-core/
    .venv/bin/python -m tools.compile_core --clean  # remove the build
    .venv/bin/python -m tools.compile_core --force  # build even when the build is current

A build is kept while nothing it was made from changed — this Python, the locked mypy
(mypyc), every module of ``schemas`` and ``streams`` (mypyc copies constants of the modules
a compiled one imports into it) — so ``make bench`` and ``make test-compiled``, which call
this first, do not rebuild a current build; ``--force`` rebuilds it anyway.

The modules (each package's ``COMPILED_MODULES``: the profile core of ``streams.core``
and the offline run's first pass over records, the built-in rule kinds of
``streams.core.kinds``, the parser, format checks, the validator's fast path and the
every-error validator in ``schemas.xapi``, and normalizing, learner keys, building
contracts and ingest's per-record step in ``schemas``) are strictly typed Python; mypyc
turns them into C extensions, which their packages load only while the build's stamp
matches their sources (``schemas.compiled``). Needs a C compiler (gcc or clang) and the Python headers; the
pure-Python modules stay the reference and the fallback.

With cargo there (``$CARGO``, the PATH or rustup's ``~/.cargo/bin``), the same build holds
the native fast path: the Rust crate ``native/`` (``Cargo.lock`` pins its crates; cargo
fetches them from crates.io the first time), built for the stable ABI into
``skillstream_native.abi3.so`` and stamped ``NATIVE`` (``schemas.compiled.load_native``).
Without cargo the build says so and goes on: the Python fast path does that work.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# This program reads the packages' module lists and never runs their compiled modules, so
# it imports them pure: a stale build (one holding a module a package no longer lists,
# which would fail to import) cannot stop the build that replaces it.
os.environ["SKILLSTREAM_PURE_CORE"] = "1"

import schemas
import schemas.xapi
import streams.core
import streams.core.kinds
from schemas.compiled import (
    BUILD_DIR,
    FORCE_PURE,
    GROUP,
    NATIVE_FILE,
    NATIVE_SOURCES,
    NATIVE_STAMP,
    STAMP,
    native_built,
    native_sources_hash,
    stamp_lines,
)

assert FORCE_PURE == "SKILLSTREAM_PURE_CORE"  # spelled out above: set before the first import

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "compiled-core-work"
NATIVE_TARGET = REPO / "build" / "native-target"
"""Cargo's target directory: kept between builds, so a rebuild compiles only what changed."""
INPUTS = "INPUTS"
"""The file in the build naming what its mypyc modules were made from (``inputs``)."""
PACKAGES = (schemas, schemas.xapi, streams.core, streams.core.kinds)


def modules() -> dict[str, Path]:
    """Dotted name → source of every module ``make compile`` builds."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        where = REPO.joinpath(*package.__name__.split("."))
        for name in package.COMPILED_MODULES:
            found[f"{package.__name__}.{name}"] = where / f"{name}.py"
    return found


def inputs() -> str:
    """A digest of what a build is made from: Python, mypy and the sources it may read."""
    digest = hashlib.sha256(f"{sys.version}|{importlib.metadata.version('mypy')}".encode())
    for package in ("schemas", "streams"):
        for path in sorted((REPO / package).rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def current() -> bool:
    """Whether the mypyc modules were made from ``inputs`` as they are now."""
    made = BUILD_DIR / INPUTS
    return (BUILD_DIR / STAMP).is_file() and made.is_file() and made.read_text() == inputs()


def build() -> Path:
    """Compile the modules into ``BUILD_DIR`` and stamp it; return the directory."""
    from mypyc.build import mypycify
    from setuptools import Distribution  # type: ignore[import-untyped]

    sources = modules()
    stamp = stamp_lines(sources)
    made_from = inputs()
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(WORK)  # mypyc writes its C sources under ./build
    try:
        paths = [str(path) for path in sources.values()]
        extensions = mypycify(paths, opt_level="3", group_name=GROUP)
        dist = Distribution({"name": "skillstream-core", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        command.build_lib = str(BUILD_DIR)
        command.build_temp = str(WORK / "temp")
        dist.run_command("build_ext")
    finally:
        os.chdir(here)
    (BUILD_DIR / STAMP).write_text(stamp, encoding="ascii")
    (BUILD_DIR / INPUTS).write_text(made_from, encoding="ascii")
    return BUILD_DIR


def cargo() -> str | None:
    """Cargo from ``$CARGO``, the PATH, or where rustup puts it."""
    for name in (os.environ.get("CARGO"), "cargo"):
        found = shutil.which(name) if name else None
        if found:
            return found
    rustup = Path.home() / ".cargo" / "bin" / "cargo"
    return str(rustup) if rustup.is_file() else None


def build_native() -> bool:
    """Build the Rust crate (``native/``) into ``BUILD_DIR`` and stamp it; without cargo,
    say so and leave the Python code to do its work."""
    tool = cargo()
    if tool is None:
        print(
            "no cargo (Rust) found: the native fast path is not built and the Python one runs"
            " (install Rust 1.82 or newer with rustup, then make compile again)",
            file=sys.stderr,
        )
        return False
    command = [
        tool,
        "build",
        "--release",
        "--locked",
        "--quiet",
        "--manifest-path",
        str(NATIVE_SOURCES / "Cargo.toml"),
        "--target-dir",
        str(NATIVE_TARGET),
    ]
    # PyO3 builds for the Python that runs this (abi3: it serves 3.11 and newer).
    env = {**os.environ, "PYO3_PYTHON": sys.executable}
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        print(
            f"cargo could not build the native fast path (exit {done.returncode}, above): the"
            " Python fast path runs; make compile again once it builds",
            file=sys.stderr,
        )
        return False
    library = (
        "libskillstream_native.dylib" if sys.platform == "darwin" else "libskillstream_native.so"
    )
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(NATIVE_TARGET / "release" / library, BUILD_DIR / NATIVE_FILE)
    (BUILD_DIR / NATIVE_STAMP).write_text(native_sources_hash() + "\n", encoding="ascii")
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="make compile",
        description="Build skillstream's hot modules with mypyc (C compiler needed).",
        epilog="Example: make compile && .venv/bin/python -c 'import streams.core as c; "
        "print(c.COMPILED)'",
    )
    parser.add_argument("--clean", action="store_true", help="remove the compiled build")
    parser.add_argument("--force", action="store_true", help="build even when the build is current")
    args = parser.parse_args(argv)
    if args.clean:
        shutil.rmtree(BUILD_DIR, ignore_errors=True)
        shutil.rmtree(WORK, ignore_errors=True)
        shutil.rmtree(NATIVE_TARGET, ignore_errors=True)
        print(f"removed {BUILD_DIR}")
        return
    # The two parts are current or built each on its own: a native build that failed, or
    # had no cargo, is tried again by the next make compile without redoing the mypyc part.
    if args.force or not current():
        if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
            sys.exit(
                "make compile needs a C compiler (cc or gcc) on the PATH; the pure modules run"
                " as is"
            )
        started = time.monotonic()
        where = build()  # a new build directory: the native module is built into it again
        took = time.monotonic() - started
        print(f"compiled {', '.join(modules())} into {where} in {took:.0f} s")
    else:
        print(f"the compiled build in {BUILD_DIR} is current ({', '.join(modules())})")
    if args.force or not native_built():
        if build_native():
            print(f"built the native fast path (native/) into {BUILD_DIR / NATIVE_FILE}")
    else:
        print(f"the native fast path in {BUILD_DIR / NATIVE_FILE} is current")


if __name__ == "__main__":
    main()
