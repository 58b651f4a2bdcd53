"""The compiled hot modules (``make compile``: the profile core, the built-in rule kinds,
the parser, format checks, the validator's fast path and the every-error validator,
normalizing and learner keys) are
used only when built from the sources beside them, and the pure-Python
modules stay the fallback.

``make test-compiled`` runs the whole unit suite with ``SKILLSTREAM_EXPECT_COMPILED=1``
after building it: every core test then exercises the compiled modules, and the first
test below proves they are the ones loaded.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import schemas
import schemas.xapi as xapi
import streams.core as core
import streams.core.kinds as kinds
from schemas import compiled

REPO = Path(__file__).resolve().parents[3]


PACKAGES = (core, kinds, xapi, schemas)


@pytest.mark.skipif(
    os.environ.get("SKILLSTREAM_EXPECT_COMPILED") != "1", reason="make test-compiled only"
)
def test_the_compiled_modules_are_the_ones_running() -> None:
    for package in PACKAGES:
        assert package.COMPILED, package.__name__
        for name in package.COMPILED_MODULES:
            module = importlib.import_module(f"{package.__name__}.{name}")
            assert module.__file__ is not None
            assert Path(module.__file__).suffix == ".so", module.__file__
            assert Path(module.__file__).is_relative_to(compiled.BUILD_DIR)


@pytest.mark.skipif(
    os.environ.get("SKILLSTREAM_EXPECT_COMPILED") != "1", reason="make test-compiled only"
)
def test_a_script_run_elsewhere_imports_the_checkouts_packages(tmp_path: Path) -> None:
    """From another directory (the checkout found only through the editable install),
    importing ``schemas`` first, then ``streams``, gives the checkout's ``streams``
    package with its compiled modules: the build's directories are never on ``sys.path``,
    where ``streams`` would have been a namespace package of the compiled modules alone."""
    code = (
        "import schemas, streams, streams.core as c, sys; "
        "print(streams.__file__, c.COMPILED, any('compiled-core' in p for p in sys.path))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(REPO / "streams" / "__init__.py"), "True", "False"]


def _loaded(env: dict[str, str]) -> str:
    """``COMPILED`` of three packages and the files of a hot module of each, in a fresh
    interpreter."""
    code = (
        "import streams.core as c, streams.core.profile as p, schemas.xapi as x, "
        "schemas.xapi.fast as f, schemas as s, schemas.normalize as n; "
        "print(c.COMPILED, x.COMPILED, s.COMPILED, p.__file__, f.__file__, n.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_skillstream_pure_core_forces_the_python_modules() -> None:
    shown = _loaded({"SKILLSTREAM_PURE_CORE": "1"}).split()
    assert shown[:3] == ["False", "False", "False"]
    assert shown[3].endswith("streams/core/profile.py")
    assert shown[4].endswith("schemas/xapi/fast.py")
    assert shown[5].endswith("schemas/normalize.py")


def _sources(package: ModuleType) -> dict[str, Path]:
    here = Path(package.__file__ or "").parent
    return {f"{package.__name__}.{m}": here / f"{m}.py" for m in package.COMPILED_MODULES}


def test_a_build_of_other_sources_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKILLSTREAM_PURE_CORE", raising=False)
    build = tmp_path / "compiled-core"
    (build / "streams" / "core").mkdir(parents=True)
    source_dir = str(Path(core.__file__ or "").parent)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    runtime = build / f"{compiled.GROUP}__mypyc{suffix}"
    # A runtime library cannot be built here: one that is there counts as loaded (its
    # loading is the next test's).
    monkeypatch.setattr(compiled, "_load_runtime", lambda where: (where / runtime.name).is_file())

    def attached() -> bool:
        path = [source_dir]
        used = compiled.attach("streams.core", path, core.COMPILED_MODULES, build)
        assert used == (path[0] != source_dir)
        return used

    assert not attached()  # no stamp
    sources = _sources(core)
    (build / compiled.STAMP).write_text(
        "".join(f"{name} {'0' * 64}\n" for name in sources), encoding="ascii"
    )
    assert not attached()  # a stamp of other sources
    stamp = compiled.stamp_lines(sources)
    (build / compiled.STAMP).write_text(stamp.splitlines(keepends=True)[0], encoding="ascii")
    assert not attached()  # a stamp that lacks some of the package's modules
    (build / compiled.STAMP).write_text(stamp, encoding="ascii")
    assert not attached()  # the right stamp, but no module for this Python
    for name in core.COMPILED_MODULES:
        (build / "streams" / "core" / f"{name}{suffix}").write_bytes(b"")
    assert not attached()  # the modules, but not their runtime library
    runtime.write_bytes(b"")
    assert attached()  # all there: the build goes first on the package's path
    other = compiled.stamp_lines(_sources(kinds))
    (build / compiled.STAMP).write_text(stamp + other, encoding="ascii")
    assert attached()  # the build of two packages, both current
    stale = other.replace(other.split()[1], "0" * 64, 1)
    (build / compiled.STAMP).write_text(stamp + stale, encoding="ascii")
    assert not attached()  # another package of the same build edited: none of it is used
    (build / compiled.STAMP).write_text(stamp, encoding="ascii")
    monkeypatch.setenv("SKILLSTREAM_PURE_CORE", "1")
    assert not attached()


def test_the_runtime_library_is_loaded_from_its_build_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``attach`` uses a build only when its runtime library loads from that build: none
    there, a damaged one (a warning, and the Python modules), or another build's already
    loaded under its name each leave the Python modules in use."""
    name = f"{compiled.GROUP}__mypyc"
    loaded = sys.modules.get(name)
    monkeypatch.delitem(sys.modules, name, raising=False)
    build = tmp_path / "compiled-core"
    build.mkdir()
    assert not compiled._load_runtime(build)  # none
    library = build / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    library.write_bytes(b"not a shared library")
    with pytest.warns(RuntimeWarning, match="does not load"):
        assert not compiled._load_runtime(build)  # damaged
    assert name not in sys.modules
    elsewhere = ModuleType(name)
    elsewhere.__file__ = str(tmp_path / "other-build" / library.name)
    monkeypatch.setitem(sys.modules, name, elsewhere)
    assert not compiled._load_runtime(build)  # another build's
    if loaded is not None and loaded.__file__ is not None:  # make test-compiled: the real one
        monkeypatch.setitem(sys.modules, name, loaded)
        assert compiled._load_runtime(Path(loaded.__file__).parent)


def test_the_stamp_follows_every_compiled_source(tmp_path: Path) -> None:
    for package in PACKAGES:
        copies = {}
        for name, path in _sources(package).items():
            copies[name] = tmp_path / path.name
            shutil.copyfile(path, copies[name])
        before = compiled.stamp_lines(copies)
        assert compiled.stamp_lines(_sources(package)) == before
        for copy in copies.values():
            text = copy.read_text(encoding="utf-8")
            copy.write_text(text + "\n# edited\n", encoding="utf-8")
            assert compiled.stamp_lines(copies) != before, copy
            copy.write_text(text, encoding="utf-8")
        assert compiled.stamp_lines(copies) == before


# --- the native module (native/, Rust) ---------------------------------------------------------


@pytest.fixture
def compile_core(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``tools.compile_core``, imported without leaving ``SKILLSTREAM_PURE_CORE`` set (the
    module sets it for itself) to the tests after."""
    before = os.environ.get(compiled.FORCE_PURE, "0")
    monkeypatch.setenv(compiled.FORCE_PURE, before)  # teardown restores what was there
    from tools import compile_core as module  # sets it to 1 the first time

    monkeypatch.setenv(compiled.FORCE_PURE, before)  # "0": not forced
    return module


@pytest.mark.skipif(
    os.environ.get("SKILLSTREAM_EXPECT_COMPILED") != "1", reason="make test-compiled only"
)
def test_the_native_fast_path_is_the_one_running(compile_core: ModuleType) -> None:
    from schemas.xapi import parse

    if compile_core.cargo() is None:
        pytest.skip("no cargo here: make compile builds no native module (it says so)")
    assert compiled.load_native() is not None, "make compile built no native module"
    assert parse.native_accepts is not None
    from schemas.normalize import NativeIngest

    assert NativeIngest.available(b"secret")  # else test_native_ingest.py skips


def test_the_native_part_of_a_build_is_current_only_for_the_crate_as_it_is(
    tmp_path: Path,
) -> None:
    assert not compiled.native_built(tmp_path)  # nothing built
    (tmp_path / compiled.NATIVE_FILE).write_bytes(b"library")
    (tmp_path / compiled.NATIVE_STAMP).write_text("0" * 64 + "\n")
    assert not compiled.native_built(tmp_path)  # built from other sources
    (tmp_path / compiled.NATIVE_STAMP).write_text(compiled.native_sources_hash() + "\n")
    assert compiled.native_built(tmp_path)  # what make compile takes as current
    (tmp_path / compiled.NATIVE_FILE).unlink()
    assert not compiled.native_built(tmp_path)  # the stamp alone is not a build


def test_the_native_module_is_used_only_when_built_from_the_crate_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = tmp_path / "native"
    (crate / "src").mkdir(parents=True)
    for name in ("Cargo.toml", "Cargo.lock"):
        (crate / name).write_text(f"# {name}\n")
    (crate / "src" / "lib.rs").write_text("// one\n")
    build = tmp_path / "build"
    build.mkdir()
    monkeypatch.delenv(compiled.FORCE_PURE, raising=False)
    with warnings.catch_warnings():
        # A None below comes from the check, never from trying to load this false library
        # (which warns): each step fails if its check is gone.
        warnings.simplefilter("error")
        assert compiled.load_native(build, crate) is None  # nothing built
        (build / compiled.NATIVE_FILE).write_bytes(b"not a library")
        (build / compiled.NATIVE_STAMP).write_text("0" * 64 + "\n")
        assert compiled.load_native(build, crate) is None  # built from other sources
        before = compiled.native_sources_hash(crate)
        (crate / "src" / "lib.rs").write_text("// two\n")
        assert compiled.native_sources_hash(crate) != before  # an edit changes the stamp
        (build / compiled.NATIVE_STAMP).write_text(compiled.native_sources_hash(crate) + "\n")
        monkeypatch.setenv(compiled.FORCE_PURE, "1")
        assert compiled.load_native(build, crate) is None  # forced pure: never loaded
    monkeypatch.setenv(compiled.FORCE_PURE, "0")
    with pytest.warns(RuntimeWarning, match="does not load"):  # current stamp: loaded...
        assert compiled.load_native(build, crate) is None  # ...but this file is no library


def test_without_cargo_the_build_says_so_and_goes_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compile_core: ModuleType,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no cargo on it
    monkeypatch.setenv("HOME", str(tmp_path))  # nor where rustup puts it
    monkeypatch.delenv("CARGO", raising=False)
    assert compile_core.cargo() is None
    assert compile_core.build_native() is False
    assert "no cargo (Rust) found" in capsys.readouterr().err
    monkeypatch.setenv("CARGO", str(tmp_path / "nowhere" / "cargo"))  # a wrong $CARGO...
    (tmp_path / "cargo").write_text("#!/bin/sh\n")
    (tmp_path / "cargo").chmod(0o755)
    assert compile_core.cargo() == str(tmp_path / "cargo")  # ...and the PATH's is taken
