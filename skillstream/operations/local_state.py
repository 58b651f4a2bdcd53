"""A worker's local profile state: finding it and deleting it, and nothing else.

A worker keeps one RocksDB database per partition under
``<SKILLSTREAM_DATA_DIR>/profiles/partition-<n>`` (``streams.state_store``).
After ``replay --rebuild`` a worker notices on its own that its local state
belongs to the old changelog (the epoch differs) and restores from the new
one; ``--local-state DIR`` deletes the folder up front instead, e.g. to free
the disk at once.

Because this deletes files, it is strict about what it deletes: ``DIR`` must
be a worker's data folder (holding ``profiles/``) or the ``profiles`` folder
itself, and everything inside ``profiles`` must be a ``partition-<n>``
database. Anything else is refused with a ``UsageError``. A pool of worker
processes keeps process *i*'s state in ``<DIR>/process-<i>``
(``skillstream.worker_pool``); those folders are found and treated the same way.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Final

PROFILES: Final = "profiles"
_PARTITION: Final = re.compile(r"partition-\d+")
_POOL_PROCESS: Final = re.compile(r"process-[1-9]\d*")


def profiles_folder(path: Path) -> Path | None:
    """The ``profiles`` folder ``path`` names, or None if it holds no profile state at all.

    Raises ``ValueError`` when ``path`` is not a worker's state (see the module docstring).
    """
    if not path.exists():
        return None
    if not path.is_dir():
        raise ValueError(f"--local-state {path} is not a folder")
    candidate = path if path.name == PROFILES and _looks_like_profiles(path) else path / PROFILES
    if not candidate.exists():
        if any(path.iterdir()) and not (path / "faust").exists():
            raise ValueError(
                f"--local-state {path} holds no profiles/ folder: give a worker's "
                "SKILLSTREAM_DATA_DIR (or its profiles/ folder)"
            )
        return None
    if not candidate.is_dir() or not _looks_like_profiles(candidate):
        raise ValueError(
            f"{candidate} holds files that are not profile databases (partition-<n>); "
            "refusing to delete it: check the path"
        )
    return candidate


def pool_process_folders(path: Path) -> list[Path]:
    """The state folders of a pool's other processes inside data folder ``path``."""
    if not path.is_dir() or path.name == PROFILES:
        return []
    found = (child for child in path.iterdir() if _POOL_PROCESS.fullmatch(child.name))
    return sorted((child for child in found if child.is_dir()), key=lambda p: p.name)


def _looks_like_profiles(folder: Path) -> bool:
    return all(_PARTITION.fullmatch(child.name) and child.is_dir() for child in folder.iterdir())


def delete_profiles(path: Path) -> Path | None:
    """Delete the profile state ``path`` names; return what was deleted (None: nothing there)."""
    folder = profiles_folder(path)
    if folder is None:
        return None
    shutil.rmtree(folder)
    return folder
