"""`replay --rebuild --local-state DIR` deletes a worker's profile state, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillstream.errors import UsageError
from skillstream.operations.local_state import delete_profiles, profiles_folder
from skillstream.operations.replay import resolve_local_state


def worker_dir(root: Path, partitions: int = 3) -> Path:
    for n in range(partitions):
        db = root / "profiles" / f"partition-{n}"
        db.mkdir(parents=True)
        (db / "CURRENT").write_text("MANIFEST-000001\n")
    (root / "faust").mkdir()
    return root


def test_a_workers_data_dir_loses_its_profiles_only(tmp_path: Path) -> None:
    root = worker_dir(tmp_path / "worker")
    assert profiles_folder(root) == root / "profiles"
    assert delete_profiles(root) == root / "profiles"
    assert not (root / "profiles").exists()
    assert (root / "faust").exists()


def test_the_profiles_folder_itself_is_accepted(tmp_path: Path) -> None:
    root = worker_dir(tmp_path / "worker")
    assert delete_profiles(root / "profiles") == root / "profiles"
    assert not (root / "profiles").exists()


@pytest.mark.parametrize("make", ["missing", "empty", "faust-only"])
def test_nothing_to_delete_is_not_an_error(tmp_path: Path, make: str) -> None:
    root = tmp_path / "worker"
    if make != "missing":
        root.mkdir()
    if make == "faust-only":
        (root / "faust").mkdir()
    assert profiles_folder(root) is None
    assert delete_profiles(root) is None


def test_a_folder_that_is_not_a_workers_state_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="no profiles/ folder"):
        delete_profiles(home)
    assert (home / "notes.txt").exists()


def test_profiles_with_foreign_files_are_refused(tmp_path: Path) -> None:
    root = worker_dir(tmp_path / "worker")
    (root / "profiles" / "thesis.tex").write_text("keep me")
    with pytest.raises(ValueError, match="not profile databases"):
        delete_profiles(root)
    assert (root / "profiles" / "partition-0").exists()


def test_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        profiles_folder(path)


def test_rebuild_checks_every_folder_before_changing_anything(tmp_path: Path) -> None:
    good = worker_dir(tmp_path / "a")
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "x").write_text("x")
    with pytest.raises(UsageError, match="no profiles/ folder"):
        resolve_local_state([good, bad])
    assert (good / "profiles").exists()
    (state,) = resolve_local_state([good])
    assert state.profiles == good / "profiles"


def test_a_pools_data_dir_loses_every_processs_profiles(tmp_path: Path) -> None:
    """``worker --processes 3`` keeps processes 1 and 2 in ``process-1`` and ``process-2``."""
    root = worker_dir(tmp_path / "worker")
    worker_dir(root / "process-1")
    worker_dir(root / "process-2")
    (root / "process-notes").mkdir()  # not a pool process: left alone
    states = resolve_local_state([root])
    assert [s.profiles for s in states] == [
        root / "profiles",
        root / "process-1" / "profiles",
        root / "process-2" / "profiles",
    ]
    for state in states:
        delete_profiles(state.given)
    assert not list(root.glob("**/profiles"))
    assert (root / "process-1" / "faust").exists()
    assert (root / "process-notes").exists()
