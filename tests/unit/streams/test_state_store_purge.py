"""An erased key leaves no byte on disk: ``StateStore.purge`` against real RocksDB files.

Every test looks at the database folder the way someone holding the disk would:
every file (SST, WAL ``*.log``, MANIFEST, RocksDB's own ``LOG``…) read as raw
bytes. It first checks that the scan *does* see the learner before the purge,
so a clean scan afterwards means the bytes are gone, not that the scan is blind
(SST blocks are compressed and prefix-encoded, hence the needles: the key's
random tail, and incompressible bytes of the value).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from streams.state_store import PURGE_KEY, StateStore, _range_of

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def learner(rng: random.Random) -> bytes:
    return ("lrn_" + "".join(rng.choice(ALPHABET) for _ in range(26))).encode()


def state_of(key: bytes) -> bytes:
    """Like an encoded state: the key, shared skill ids, then bytes of its own."""
    return b"\x05[" + key + b',"skill:sql","skill:python"]' + os.urandom(600) + bytes(400)


def needles(key: bytes, *values: bytes) -> list[bytes]:
    tail = key[-20:]  # SST keys are prefix-encoded: the shared "lrn_…" may not be spelled out
    found = [tail, tail.hex().encode(), tail.hex().upper().encode()]
    return found + [own(value) for value in values]


def own(value: bytes) -> bytes:
    """Bytes of ``state_of``'s random part: no compression hides them."""
    return value[100:132]


def traces(folder: Path, wanted: list[bytes]) -> list[tuple[str, int]]:
    """(file, needle index) for every needle in every file under ``folder``."""
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits += [(path.name, i) for i, needle in enumerate(wanted) if needle in data]
    return hits


def fill(store: StateStore, rng: random.Random, n: int, offset: int) -> dict[bytes, bytes]:
    others = {learner(rng): b"" for _ in range(n)}
    for key in others:
        others[key] = state_of(key)
    store.write(0, others, offset)
    return others


@pytest.mark.parametrize("where", ["inside a file", "last key of a file"])
def test_an_erased_key_is_gone_from_every_file(tmp_path: Path, where: str) -> None:
    """A key that bounds an SST file is also named in the MANIFEST: that copy goes too.

    (Never the first key of a flushed file: the checkpoint key sorts first.)
    """
    rng = random.Random(1)
    store = StateStore(tmp_path)
    others = fill(store, rng, 500, 10)
    key = learner(rng)
    if where != "inside a file":
        key = key[:4] + b"zzzz" + key[8:]
    older, latest = state_of(key), state_of(key)
    store.write(0, {key: older}, 11)
    store.seal(0)  # the older state in an SST file
    fill(store, rng, 500, 12)
    store.write(0, {key: latest}, 13)  # the latest one in the WAL and the memtable
    store.write(0, {key: None}, 14)  # the erasure, as the profile stage writes it
    wanted = needles(key, older, latest)
    assert store.get(0, key) is None
    seen = traces(tmp_path, wanted)
    assert {i for _, i in seen} >= {0, 3, 4}, seen  # the scan sees key and both states
    assert any(name.endswith(".sst") for name, _ in seen)
    assert any(name.endswith(".log") for name, _ in seen)
    if where == "last key of a file":
        assert any(name.startswith("MANIFEST") for name, _ in seen)

    took = store.purge(0, [key])

    assert took > 0
    assert traces(tmp_path, wanted) == []
    for other, value in list(others.items())[:50]:  # everyone else is untouched
        assert store.get(0, other) == value
    assert store.checkpoint(0) == 14
    store.close()
    assert traces(tmp_path, wanted) == []  # nor after a close, nor after a reopen
    reopened = StateStore(tmp_path)
    assert reopened.get(0, key) is None
    assert reopened.checkpoint(0) == 14
    reopened.close()
    assert traces(tmp_path, wanted) == []


def test_erased_then_new_events_keep_only_the_new_state(tmp_path: Path) -> None:
    """An erasure followed by events in the same batch overwrites the state: the old one goes."""
    rng = random.Random(2)
    store = StateStore(tmp_path)
    fill(store, rng, 300, 1)
    key = learner(rng)
    old, new = state_of(key), state_of(key)
    store.write(0, {key: old}, 2)
    store.seal(0)
    store.write(0, {key: new}, 3)
    assert traces(tmp_path, [own(old)])

    store.purge(0, [key])

    assert traces(tmp_path, [own(old)]) == []
    assert traces(tmp_path, [own(new)])
    assert store.get(0, key) == new
    store.close()


def test_a_restore_that_erases_marks_the_partition_until_purged(tmp_path: Path) -> None:
    """A changelog not yet cleaned brings the old states, then the tombstone."""
    rng = random.Random(3)
    store = StateStore(tmp_path)
    key = learner(rng)
    old = state_of(key)
    others = [(learner(rng), state_of(b"x")) for _ in range(300)]
    store.write_records(0, [*others, (key, old)], 301)
    store.seal(0)  # a memtable flushed in the middle of a restore
    assert not store.purge_due(0)
    store.write_records(0, [(key, None)], 302)
    store.seal(0)
    assert store.purge_due(0)
    wanted = needles(key, old)
    assert traces(tmp_path, wanted)
    store.close()  # a crash before the purge: the mark is in the database

    store = StateStore(tmp_path)
    store.open(0)
    assert store.purge_due(0)
    store.purge(0)
    assert not store.purge_due(0)
    assert traces(tmp_path, wanted) == []
    assert store.get(0, PURGE_KEY) is None
    assert sorted(store.keys(0)) == sorted(k for k, _ in others)
    store.close()
    store = StateStore(tmp_path)
    store.open(0)
    assert not store.purge_due(0)
    store.close()


def test_many_keys_at_once_and_nothing_to_do(tmp_path: Path) -> None:
    rng = random.Random(4)
    store = StateStore(tmp_path)
    assert store.purge(0) == 0.0  # nothing erased, nothing due: no flush, no compaction
    keep = fill(store, rng, 200, 1)
    gone = fill(store, rng, 20, 2)
    store.seal(0)
    store.write(0, dict.fromkeys(gone), 3)
    wanted = [n for key, value in gone.items() for n in needles(key, value)]
    assert traces(tmp_path, wanted)

    store.purge(0, gone)

    assert traces(tmp_path, wanted) == []
    assert set(store.keys(0)) == set(keep)
    store.close()


def test_a_wiped_partition_forgets_its_mark(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write_records(0, [(b"lrn_a", None)], 1)
    assert store.purge_due(0)
    store.wipe(0)
    assert not store.purge_due(0)
    assert store.checkpoint(0) == 0
    store.close()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b"lrn_abcdefghijklmnopqrstuvwxyz", (b"lrn_ab", b"lrn_ac")),
        (b"lrn_a", (b"lrn_a", b"lrn_b")),
        (b"ab\xff\xff\xff\xff\xff", (b"ab\xff\xff\xff\xff", b"ac")),
        (b"\xff\xff", (b"\xff\xff", None)),
    ],
)
def test_the_compacted_range_is_named_by_a_short_prefix(
    key: bytes, expected: tuple[bytes, bytes | None]
) -> None:
    begin, end = _range_of(key)
    assert (begin, end) == expected
    assert begin <= key
    assert end is None or key < end
