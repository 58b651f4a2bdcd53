"""Local profile state: one RocksDB (rocksdict) database per partition, with a checkpoint.

Each partition's database holds the encoded profile state of every learner in
that partition, plus reserved keys (``_RESERVED``), among them the next offset
of the partition's changelog that the database has *not* yet seen. State and checkpoint are
written in one ``WriteBatch``, so after any crash the database is exactly the
changelog up to its checkpoint; restoring is reading the changelog from there.

**Erasure reaches the disk** (``purge``). A RocksDB delete only writes a
tombstone: the old value stays in the write-ahead log and in older SST files
until a compaction happens to merge them, and the key stays in the MANIFEST
while it bounds a file. After an erasure the profile stage calls ``purge``,
which, for that partition:

1. flushes the memtable, so the WAL that held the learner's writes becomes
   obsolete and RocksDB deletes it (no WAL recycling or archiving is
   configured: ``recycle_log_file_num`` and ``WAL_ttl_seconds`` stay 0);
2. compacts the key's range through every level down to the bottommost,
   forced there (``BottommostLevelCompaction.force_optimized``), so every SST
   file holding a version of the key is rewritten without it and the
   tombstone itself is dropped; the range is the key's first
   ``_RANGE_PREFIX`` bytes (``lrn_`` and two more characters: 1/1024 of the
   keys), so the bounds RocksDB writes to its ``LOG`` never name the learner;
3. closes and reopens the database: RocksDB writes a new MANIFEST holding the
   live files only and deletes the old one, whose history named every file's
   first and last key.

Cost: RocksDB compacts a range level by level, and the level-0 files (one per
memtable flush, each spanning the whole key space because keys are hashes)
are compacted with every base-level file they overlap, i.e. the whole base
level; below it only the files holding the key. So an erasure costs about one
rewrite of the partition's database. Measured on a 2-core machine: ~0.04 s
for 1,000 learners per partition, ~0.2 s for 25,000, 2.4-3.5 s for 250,000
learners of 2 KB (about 370 MB with the memtable's level-0 files); each
further key erased in the same purge adds ~0.25 s (one bottom-level file).
RocksDB releases the GIL meanwhile; the stage runs ``purge`` in a thread, so
the event loop (heartbeats, the other stage) goes on while the profile stage
waits.

A restore applies the changelog's tombstones too, after writing the erased
learners' older values if the changelog's cleaner has not removed them yet.
``write_records`` marks the partition (``PURGE_KEY``, in the same atomic
batch as the checkpoint, so a crash does not lose it) and the stage purges
the whole partition after its next batch there (``purge_due``).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import rocksdict

CHECKPOINT_KEY = b"\x00skillstream:changelog-next-offset"
EPOCH_KEY = b"\x00skillstream:epoch"
"""The first record of every changelog partition carries an epoch; a rebuild
recreates the changelog with a new one, so a worker's old local state can
never be mistaken for the new changelog's."""
PURGE_KEY = b"\x00skillstream:purge-due"
"""Present while a restore deleted keys that ``purge`` has not removed from the files yet."""
_RESERVED = (CHECKPOINT_KEY, EPOCH_KEY, PURGE_KEY)

_RANGE_PREFIX = 6
"""Bytes of a key that bound its compaction (see the module docstring, step 2)."""
_PURGE_WHOLE_ABOVE = 8
"""More keys than this in one purge: compact the whole partition once instead of each range."""
_KEEP_LOGS = 16
"""RocksDB's own LOG files kept per partition; each purge reopens the database, which starts one."""


_UNLOGGED = rocksdict.WriteOptions()
_UNLOGGED.disable_wal = True  # type: ignore[method-assign,assignment]  # an attribute at run time


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dbs: dict[int, rocksdict.Rdict] = {}
        self._due: set[int] = set()
        """Open partitions whose ``PURGE_KEY`` is set."""
        self._purging = threading.Lock()
        """``purge`` runs in a thread: ``close`` and ``wipe`` wait for it."""

    def _path(self, partition: int) -> Path:
        return self.root / f"partition-{partition}"

    def open(self, partition: int) -> rocksdict.Rdict:
        db = self._dbs.get(partition)
        if db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            options = rocksdict.Options(raw_mode=True)
            options.create_if_missing(True)
            options.set_keep_log_file_num(_KEEP_LOGS)
            options.set_compression_type(rocksdict.DBCompressionType.none())
            db = rocksdict.Rdict(str(self._path(partition)), options=options)
            self._dbs[partition] = db
            if db.get(PURGE_KEY) is not None:
                self._due.add(partition)
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
        deleted = False
        for key, value in records:
            if value is None:
                batch.delete(key)
                deleted = True
            else:
                batch.put(key, value)
            n += 1
        batch.put(CHECKPOINT_KEY, str(next_offset).encode())
        if deleted:  # an erasure: older values of the key may be in the files (see purge)
            batch.put(PURGE_KEY, b"1")
        self.open(partition).write(batch, _UNLOGGED)
        if deleted:
            self._due.add(partition)
        return n

    def seal(self, partition: int) -> None:
        """Flush what ``write_records`` wrote unlogged to disk."""
        self.open(partition).flush(True)

    def purge_due(self, partition: int) -> bool:
        """Whether a restore deleted keys of ``partition`` that are still in its files."""
        return partition in self._due

    def purge(self, partition: int, keys: Iterable[bytes] = ()) -> float:
        """Remove every copy of ``keys`` from the partition's files; returns the seconds it took.

        The keys must already be deleted or overwritten (``write``): what goes
        is every *older* version, and the tombstone. With ``purge_due`` the
        whole partition is compacted (a restore does not say which keys it
        deleted). Blocking, mostly without the GIL: call it in a thread. See
        the module docstring for what it does and costs.
        """
        todo = sorted(set(keys))
        with self._purging:
            db = self.open(partition)
            whole = partition in self._due or len(todo) > _PURGE_WHOLE_ABOVE
            if not todo and not whole:
                return 0.0
            started = time.perf_counter()
            db.flush(True)
            options = rocksdict.CompactOptions()
            options.set_bottommost_level_compaction(
                rocksdict.BottommostLevelCompaction.force_optimized()
            )
            if whole:
                db.compact_range(None, None, options)
            else:
                for key in todo:
                    begin, end = _range_of(key)
                    db.compact_range(begin, end, options)
            if partition in self._due:
                db.delete(PURGE_KEY)
                self._due.discard(partition)
            db.close()  # reopened: a new MANIFEST, without the old files' bounds
            del self._dbs[partition]
            self.open(partition)
            return time.perf_counter() - started

    def keys(self, partition: int) -> Iterable[bytes]:
        for key in self.open(partition).keys():  # noqa: SIM118 - an Rdict, not a dict
            if isinstance(key, bytes) and key not in _RESERVED:
                yield key

    def wipe(self, partition: int) -> None:
        """Forget a partition's local state (its changelog is the truth)."""
        with self._purging:
            self._release(partition)
            shutil.rmtree(self._path(partition), ignore_errors=True)

    def release(self, partition: int) -> None:
        """Close one partition's database, so that another process may open it."""
        with self._purging:
            self._release(partition)

    def _release(self, partition: int) -> None:
        db = self._dbs.pop(partition, None)
        if db is not None:
            db.close()
        self._due.discard(partition)

    def close(self) -> None:
        with self._purging:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
            self._due.clear()


def _range_of(key: bytes) -> tuple[bytes, bytes | None]:
    """A key range holding ``key``, bounded by its first ``_RANGE_PREFIX`` bytes only."""
    begin = key[:_RANGE_PREFIX]
    end = bytearray(begin)
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return begin, None
    end[-1] += 1
    return begin, bytes(end)
