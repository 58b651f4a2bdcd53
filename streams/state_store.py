"""Local profile state: one RocksDB (rocksdict) database per partition, with a checkpoint.

Each partition's database holds the encoded profile state of every learner in
that partition, plus one reserved key: the next offset of the partition's
changelog that the database has *not* yet seen. State and checkpoint are
written in one ``WriteBatch``, so after any crash the database is exactly the
changelog up to its checkpoint; restoring is reading the changelog from there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import rocksdict

CHECKPOINT_KEY = b"\x00skillstream:changelog-next-offset"
EPOCH_KEY = b"\x00skillstream:epoch"
"""The first record of every changelog partition carries an epoch; a rebuild
recreates the changelog with a new one, so a worker's old local state can
never be mistaken for the new changelog's."""


_UNLOGGED = rocksdict.WriteOptions()
_UNLOGGED.disable_wal = True  # type: ignore[method-assign,assignment]  # an attribute at run time


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dbs: dict[int, rocksdict.Rdict] = {}

    def _path(self, partition: int) -> Path:
        return self.root / f"partition-{partition}"

    def open(self, partition: int) -> rocksdict.Rdict:
        db = self._dbs.get(partition)
        if db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            options = rocksdict.Options(raw_mode=True)
            options.create_if_missing(True)
            db = rocksdict.Rdict(str(self._path(partition)), options=options)
            self._dbs[partition] = db
        return db

    def checkpoint(self, partition: int) -> int:
        raw = self.open(partition).get(CHECKPOINT_KEY)
        return int(raw) if raw is not None else 0

    def epoch(self, partition: int) -> bytes | None:
        value: bytes | None = self.open(partition).get(EPOCH_KEY)
        return value

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.open(partition).get(key)
        return value

    def write(
        self, partition: int, changes: Mapping[bytes, bytes | None], next_offset: int
    ) -> None:
        """Apply puts (bytes) and deletes (None) and move the checkpoint, atomically."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(CHECKPOINT_KEY, str(next_offset).encode())
        self.open(partition).write(batch)

    def write_records(
        self, partition: int, records: Iterable[tuple[bytes, bytes | None]], next_offset: int
    ) -> int:
        """Restore path: apply changelog records in order; returns how many.

        Written without the write-ahead log, for speed: each batch carries its
        checkpoint, and a memtable is flushed whole, so after a crash the
        database is still the changelog up to its checkpoint (an earlier one,
        read again). ``seal`` makes a finished restore durable before any
        logged write follows it.
        """
        batch = rocksdict.WriteBatch(raw_mode=True)
        n = 0
        for key, value in records:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
            n += 1
        batch.put(CHECKPOINT_KEY, str(next_offset).encode())
        self.open(partition).write(batch, _UNLOGGED)
        return n

    def seal(self, partition: int) -> None:
        """Flush what ``write_records`` wrote unlogged to disk."""
        self.open(partition).flush(True)

    def keys(self, partition: int) -> Iterable[bytes]:
        for key in self.open(partition).keys():  # noqa: SIM118 - an Rdict, not a dict
            if isinstance(key, bytes) and key not in (CHECKPOINT_KEY, EPOCH_KEY):
                yield key

    def wipe(self, partition: int) -> None:
        """Forget a partition's local state (its changelog is the truth)."""
        db = self._dbs.pop(partition, None)
        if db is not None:
            db.close()
        shutil.rmtree(self._path(partition), ignore_errors=True)

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()
