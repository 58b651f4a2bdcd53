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
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import os
import sys
from pathlib import Path
from typing import Final

BUILD_DIR: Final = Path(__file__).resolve().parent.parent / "build" / "compiled-core"
"""Where ``make compile`` puts the extensions and the stamp."""
STAMP: Final = "SOURCES"
FORCE_PURE: Final = "SKILLSTREAM_PURE_CORE"


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
    path.insert(0, str(compiled))
    if str(build) not in sys.path:
        sys.path.append(str(build))  # the modules' shared runtime library
    return True
