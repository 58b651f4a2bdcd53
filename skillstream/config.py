"""Loading the operator's files — rules, catalog, vocabulary, statements — with clear errors.

Every loader turns a bad file into ``ConfigError`` (exit 2) whose message names
the file and the offending field, so a misconfigured worker refuses to start
instead of running with half a configuration.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.catalog import Catalog, CatalogFile
from schemas.vocabulary import Vocabulary
from skillstream.errors import ConfigError, UsageError
from streams.core import Rules

SAMPLE_CATALOG = Path(__file__).resolve().parent / "samples" / "catalog.yaml"


def load_rules(path: Path | None) -> Rules:
    try:
        return Rules.load(path)
    except ValueError as exc:
        raise ConfigError(f"rules file refused: {exc}") from None


def load_vocabulary(path: Path | None) -> Vocabulary:
    try:
        return Vocabulary.load(path)
    except ValueError as exc:
        raise ConfigError(f"vocabulary file refused: {exc}") from None


def load_catalog_file(path: Path) -> CatalogFile:
    if not path.is_file():
        raise UsageError(f"catalog file {path} does not exist")
    try:
        return CatalogFile.load(path)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"catalog file {path} refused: {problems}") from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"catalog file {path} refused: {exc}") from None


def load_catalog(path: Path | None) -> Catalog:
    """The catalog from ``path``, or the sample that ships with skillstream."""
    return Catalog(load_catalog_file(path or SAMPLE_CATALOG).items())


def input_file(path: Path | str, what: str) -> Path:
    """``path`` if it is a readable file; otherwise a ``UsageError`` naming it and why."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist")
    if not path.is_file():
        raise UsageError(f"{what} {path} is not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read: {exc.strerror}") from None
    return path


def xapi_rules(given: str | None, default: str) -> str:
    """``--xapi-version`` (else the setting) if it names a rule set; a ``UsageError`` if not."""
    version = given or default
    if not version.startswith(("1.0.", "2.0.")):
        raise UsageError(f"--xapi-version must be 1.0.x or 2.0.x, not {version!r}")
    return version


def output_file(path: Path, what: str) -> Path:
    """``path`` as a file that can be written: its folder exists and is writable, and it
    is not a folder itself."""
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; name a file")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: the folder {folder} is not writable")
    return path


def output_folder(path: Path, what: str) -> Path:
    """``path`` as a folder that exists (created with its parents) and can be written to."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be created: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path} is not writable")
    return path


def read_statements(source: str) -> Iterator[bytes]:
    """Records from a JSON Lines file, a JSON array file, or ``-`` (standard input).

    Each yielded item is one record's bytes exactly as it will be published: a
    line of a JSON Lines file is passed through untouched (even when it is not
    valid JSON — that is the dead-letter topic's business, not the reader's).
    """
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        data = input_file(source, "statements file").read_bytes()
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise UsageError(
                f"{source}: starts like a JSON array but is not valid JSON: {exc}"
            ) from None
        for item in items:
            yield orjson.dumps(item)
        return
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.strip():
            yield line
