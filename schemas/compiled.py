"""The mypyc build of skillstream's hot modules (``make compile``), and when to use it.

A package with hot modules names them and asks, first thing in its ``__init__``::

    COMPILED_MODULES = ("fast",)
    COMPILED = attach(__name__, __path__, COMPILED_MODULES)

``make compile`` (``tools/compile_core.py``) builds every such module into
``build/compiled-core/`` and writes the stamp ``SOURCES``: one line per module, its
dotted name and the SHA-256 of the source it was built from. :func:`attach` puts a
package's compiled modules first on its ``__path__`` only when every module of the build
— of every package — was built from the source it stands for, for this Python: the
compiled packages use each other's compiled classes (a compiled rule kind takes the
compiled core's arguments), so they are used all together or not at all. An edit to any
of them falls back to the pure-Python modules until the next ``make compile``, and
``SKILLSTREAM_PURE_CORE=1`` forces them.
The pure-Python modules are the reference: the compiled ones are the same code.

The same build may hold a **native module** (``native/``, Rust, built by ``make compile``
when cargo is there): :func:`load_native` loads it only while its stamp ``NATIVE``
matches the crate's sources, and never under ``SKILLSTREAM_PURE_CORE=1``. What it does
has a Python twin it is tested against (see the crate's docs).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Final

try:  # mypyc's class options, for the compiled modules that need them
    from mypy_extensions import mypyc_attr as mypyc_attr  # noqa: PLC0414 - re-exported
except ImportError:  # a runtime without the build tools: nothing is compiled

    def mypyc_attr(*_args: object, **_kwargs: object) -> Callable[[type], type]:  # type: ignore[misc]
        return lambda cls: cls


BUILD_DIR: Final = Path(__file__).resolve().parent.parent / "build" / "compiled-core"
"""Where ``make compile`` puts the extensions and the stamp."""
STAMP: Final = "SOURCES"
FORCE_PURE: Final = "SKILLSTREAM_PURE_CORE"
GROUP: Final = "skillstream_core"
"""mypyc's group name for the build: the compiled modules share one runtime library,
``{GROUP}__mypyc``, at the build's top."""


def source_hash(path: Path) -> str:
    """SHA-256 of one module's source: what a compiled module is of."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp_lines(modules: dict[str, Path]) -> str:
    """The stamp for a build of ``modules`` (dotted name → source file)."""
    return "".join(f"{name} {source_hash(path)}\n" for name, path in sorted(modules.items()))


def read_stamp(build: Path) -> dict[str, str]:
    """Dotted module name → source hash, as the build at ``build`` recorded them."""
    try:
        text = (build / STAMP).read_text(encoding="ascii")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, _, digest = line.partition(" ")
        if digest:
            found[name] = digest
    return found


def attach(
    package: str, path: list[str], modules: tuple[str, ...], build: Path | None = None
) -> bool:
    """Put ``package``'s compiled ``modules`` first on its ``path`` when the build holds
    all of them, built from the sources in ``path[-1]`` (the package's own directory) for
    this Python; say whether it did."""
    if os.environ.get(FORCE_PURE, "") not in ("", "0"):
        return False
    build = BUILD_DIR if build is None else build
    stamp = read_stamp(build)
    sources = Path(path[-1])  # the package's own directory (a compiled one goes first)
    if any(f"{package}.{name}" not in stamp for name in modules):
        return False
    root = sources.parents[package.count(".")]  # where the top-level packages are
    for dotted, digest in stamp.items():
        source = root.joinpath(*dotted.split(".")).with_suffix(".py")
        if not source.is_file() or source_hash(source) != digest:
            return False  # this package's modules, or another's of the same build, edited
    compiled = build.joinpath(*package.split("."))
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    if not all(any((compiled / f"{m}{x}").is_file() for x in suffixes) for m in modules):
        return False  # built for another Python
    if not _load_runtime(build):
        return False
    path.insert(0, str(compiled))
    return True


def _load_runtime(build: Path) -> bool:
    """Load the compiled modules' shared runtime library from ``build`` (each compiled
    module imports it by name); say whether it is loaded, from ``build``. Loaded from its
    file, not by putting ``build`` on ``sys.path``: there, the build's package directories
    would make ``import streams`` find a namespace package of compiled modules alone when
    the checkout is not on ``sys.path`` (a script run from another directory, with an
    editable install). A library that does not load leaves the Python modules in use,
    with a warning, as a damaged native module does."""
    name = f"{GROUP}__mypyc"
    loaded = sys.modules.get(name)
    if loaded is not None:  # another build's runtime would run its own modules' code
        where = getattr(loaded, "__file__", None)
        return where is not None and Path(where).parent == build
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        library = build / f"{name}{suffix}"
        if not library.is_file():
            continue
        loader = importlib.machinery.ExtensionFileLoader(name, str(library))
        spec = importlib.util.spec_from_file_location(name, library, loader=loader)
        if spec is None:
            return False
        try:
            module = importlib.util.module_from_spec(spec)  # opens and initialises it
            loader.exec_module(module)
        except ImportError as exc:
            warnings.warn(
                f"the compiled core's runtime {library} does not load ({exc}); the Python "
                "modules run (make compile builds it again)",
                RuntimeWarning,
                stacklevel=3,
            )
            return False
        sys.modules[name] = module
        return True
    return False


# --- the native hot path (Rust, ``native/``) ---------------------------------------------------

NATIVE_SOURCES: Final = BUILD_DIR.parent.parent / "native"
"""The Rust crate ``make compile`` builds beside the mypyc modules (when cargo is there)."""
NATIVE_STAMP: Final = "NATIVE"
"""The file in the build naming the crate sources the native module was built from."""
NATIVE_MODULE: Final = "skillstream_native"
NATIVE_FILE: Final = f"{NATIVE_MODULE}.abi3.so"


def native_sources_hash(crate: Path = NATIVE_SOURCES) -> str:
    """SHA-256 over the crate's manifest, lock file and Rust sources: what a build is of."""
    digest = hashlib.sha256()
    files = [crate / "Cargo.toml", crate / "Cargo.lock", *sorted((crate / "src").rglob("*.rs"))]
    for path in files:
        digest.update(path.relative_to(crate).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def native_built(build: Path = BUILD_DIR, crate: Path = NATIVE_SOURCES) -> bool:
    """Whether ``build`` holds the native module, made from ``crate`` as it is now."""
    try:
        stamp = (build / NATIVE_STAMP).read_text(encoding="ascii").strip()
    except OSError:
        return False
    return (
        (build / NATIVE_FILE).is_file() and crate.is_dir() and stamp == native_sources_hash(crate)
    )


@functools.cache
def shared_native() -> ModuleType | None:
    """``load_native()``, loaded once for every module of the process that uses it."""
    return load_native()


def load_native(build: Path | None = None, crate: Path = NATIVE_SOURCES) -> ModuleType | None:
    """The native module, when ``make compile`` built it from the crate as it is now and
    ``SKILLSTREAM_PURE_CORE`` is not set; else None (the Python code does the work)."""
    if os.environ.get(FORCE_PURE, "") not in ("", "0"):
        return None
    build = BUILD_DIR if build is None else build
    if not native_built(build, crate):
        return None
    library = build / NATIVE_FILE
    loader = importlib.machinery.ExtensionFileLoader(NATIVE_MODULE, str(library))
    spec = importlib.util.spec_from_file_location(NATIVE_MODULE, library, loader=loader)
    if spec is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:  # a damaged build: the Python code still does the work
        warnings.warn(
            f"the native module {library} does not load ({exc}); the Python fast path runs "
            "(python -m tools.compile_core --force builds it again)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return module
