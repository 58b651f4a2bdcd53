"""The profile state of one learner, and its compact binary encoding.

The state is laid out for a hot path and a small table value, not for
reading. Numbers that come in quantity live in typed arrays (``array``), in
memory as on the wire, so the codec copies buffers instead of visiting
thousands of Python objects. It holds, each in a typed part of ``ProfileState``
(the attribute named first),

- ``kept``: the **kept statements** (the newest applied, at most ``evidence_cap``),
  whole, as five parallel columns sorted by the statement key (event time,
  statement id): ``rt`` event time (µs), ``rh``/``rl`` the statement id as
  two 64-bit halves, ``rc`` a code (kind, evidence flag, one bit per skill
  of the state's skill table) and ``rv`` the evidence score (``-1.0``:
  none). They are what voiding can withdraw, what milestones cite as
  evidence and what a late statement is re-evaluated against.
- ``totals``: exact aggregates over *every* statement applied (kept or folded):
  integer counters, the runs of active ISO weeks, attendances per day; and
  ``skills``: per skill (columns indexed by the skill's place in ``names``)
  counters and the decayed assessment mass as fixed-point integers per time bucket (see
  ``Decay``). Integer sums do not depend on the order they were added in,
  which is what makes a snapshot identical for any arrival order.
- ``folded``: what remains of statements **folded** out of the kept ones: the
  horizon (key of the newest folded statement), the first activity, folded
  statements per day inside the longest window; and in ``skills``, per skill the newest
  folded time, the newest folded evidence, the best folded score and the
  folded part of the performance-boost history (``tails``).
- ``memory``: ``seen``, 64-bit hashes of ids that must not be applied again beyond the
  kept statements (folded statements, voided targets, voiding statements),
  first in first out, at most ``dedupe_memory`` of them; and the ids of the
  milestones achieved, never trimmed (a milestone must not fire twice).
- ``exposures``: a statement that is activity only (kind ``other``, no score)
  but names skills, such as a video watched to the end, exposes the learner to
  those skills once per activity, however often it is repeated. ``expo`` holds
  the kept ones (id hash -> activity key, the code naming its skills, id
  halves): of those of one activity, the earliest by statement key holds the
  skills in its ``rc`` code and the others are coded as plain activity.
  ``expo_folded`` holds the activity keys whose credited exposure is folded;
  every kept repeat of those is plain activity. Never trimmed (one per
  activity the learner was exposed to).

A statement id that is a canonical (lower-case) UUID is kept as its 128
bits; any other id as a 128-bit BLAKE2b hash, with its text kept beside it
while the statement is kept whole. Ties in event time are broken by these
128 bits, which for UUIDs is the order of the ids as text.

Times are integer microseconds since the Unix epoch (UTC); days and ISO
weeks are counted from it (``day = t // DAY_US``, ``week = (day + 3) // 7``,
weeks starting on Monday).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import sys
from array import array
from bisect import bisect_left, insort
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import compress, pairwise, repeat
from operator import and_, xor
from typing import Any, Final

import orjson

from schemas.compiled import shared_native
from schemas.events import EventKind

STATE_FORMAT_VERSION: Final = 4
"""Bumped on any change to the encoding; ``decode_state`` refuses others, except formats 3
and 2 (format 2 is format 3 without exposures: read as having none kept or folded)."""

DAY_US: Final = 86_400_000_000
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_UTC: Final = UTC  # a Final name: compiled code reads it without a look-up in the module

SCALE: Final = float(1 << 40)
"""Fixed-point scale of the decayed evidence sums."""
BUCKET_HALF_LIVES: Final = 8
"""A decay bucket spans this many half-lives."""
KEEP_BUCKETS: Final = 8
"""Buckets this many or more older than a skill's newest weigh < 2**-56 of it."""

HALF_LIFE_DAYS = (0.001, 36_500.0)  # not Final: mypyc reads a Final tuple of floats back unset
"""The half-lives a profile may be built with, in days: the rules' ``half_life_days``,
and what a decoded state must hold. Skills decay over weeks; a half-life of a fraction of
a microsecond would give decay buckets of no width at all (the fold would divide by
zero), and a state outside the range is not one skillstream wrote."""


def _half_life(value: object) -> bool:
    """Whether ``value`` is a half-life in days a state may hold (``HALF_LIFE_DAYS``)."""
    low, high = HALF_LIFE_DAYS
    return type(value) in (int, float) and low <= value <= high  # type: ignore[operator]


KINDS: Final[tuple[EventKind, ...]] = tuple(EventKind)
KIND_CODE: Final[dict[EventKind, int]] = {k: i for i, k in enumerate(KINDS)}
COMPLETED: Final = KIND_CODE[EventKind.COURSE_COMPLETED]
PASSED: Final = KIND_CODE[EventKind.COURSE_PASSED]
ATTENDED: Final = KIND_CODE[EventKind.EVENT_ATTENDED]
CERTIFIED: Final = KIND_CODE[EventKind.CERTIFICATION_EARNED]
COLLABORATED: Final = KIND_CODE[EventKind.COLLABORATION]
OTHER: Final = KIND_CODE[EventKind.OTHER]

KIND_BITS: Final = 0xF
"""A kept statement's code: its kind in the low four bits ..."""
EVIDENCE: Final = 0x10
"""... this bit when it is assessment evidence (``rv`` holds its score) ..."""
SKILL_SHIFT: Final = 5
"""... and from this bit on, one bit per skill it names (its index in ``names``)."""

# Positions in Totals.counts.
N_STATEMENTS: Final = 0
N_COURSES: Final = 1
N_EVENTS: Final = 2
N_ASSESSMENTS: Final = 3
N_CERTIFICATIONS: Final = 4
N_COLLABORATIONS: Final = 5
N_COUNTED: Final = 6

NO_SCORE: Final = -1.0
MASK64: Final = (1 << 64) - 1


_native: Final = shared_native()
_native_key: Final[Callable[[str], tuple[int, int, bool] | None] | None] = (
    None if _native is None else _native.statement_key
)
_native_text: Final[Callable[[int, int], str] | None] = (
    None if _native is None else _native.uuid_text
)
"""The two conversions of statement ids, native where the module is built
(``native/src/ids.rs``): a tenth of the Python cost, once or more per statement."""
_native_pack: Final[Callable[[str, list[Any]], bytes] | None] = (
    None if _native is None else _native.pack
)
"""A state's number arrays packed in Rust where the native module is built
(``native/src/pack.rs``; ``python_pack`` is the reference)."""
_native_datetime: Final[Callable[[int], datetime] | None] = (
    None if _native is None else _native.datetime_of
)
"""``from_micros``, native where the module is built (``native/src/ingest.rs``)."""
_native_untrack: Final[Callable[[list[Any], list[Any]], int] | None] = (
    None if _native is None else _native.untrack
)
"""Containers out of the cyclic collector's walks (``native/src/untrack.rs``)."""

_CANONICAL: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
).fullmatch


def statement_key(sid: str) -> tuple[int, int, bool]:
    """(high, low, odd): the id's 128 bits; ``odd`` when it is not a canonical UUID
    (then the bits are a BLAKE2b hash of it and the text must be kept to cite it)."""
    if _native_key is not None:
        key: tuple[int, int, bool] | None = _native_key(sid)
        if key is not None:
            return key
    return python_statement_key(sid)


def python_statement_key(sid: str) -> tuple[int, int, bool]:
    """``statement_key`` in Python: the reference, and the way where the native module is
    not built."""
    if len(sid) == 36 and _CANONICAL(sid):
        v = int(sid.replace("-", ""), 16)
        return v >> 64, v & MASK64, False
    digest = hashlib.blake2b(sid.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big"), True


_ID_BYTES: Final = struct.Struct(">QQ")


def activity_key(activity_id: str) -> int:
    """A 64-bit key of an activity id (never 0), the same in every process."""
    key = int.from_bytes(hashlib.blake2b(activity_id.encode(), digest_size=8).digest(), "big")
    return key or 1


def uuid_text(hi: int, lo: int) -> str:
    """The canonical text of the UUID whose 128 bits are ``hi`` and ``lo``."""
    if _native_text is not None:
        text: str = _native_text(hi, lo)
        return text
    return python_uuid_text(hi, lo)


def python_uuid_text(hi: int, lo: int) -> str:
    """``uuid_text`` in Python: the reference, and the way where the native module is not
    built."""
    h = _ID_BYTES.pack(hi, lo).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def from_micros(t: int) -> datetime:
    """The UTC datetime of a time in microseconds (years 1 to 9999): where the native module
    is built, made by the ``datetime`` module's C constructor from the fields Rust works out
    (``native/src/utc.rs``; about a fifth of what ``datetime.fromtimestamp`` costs; once per
    milestone, and per skill in a snapshot)."""
    if _native_datetime is not None:
        return _native_datetime(t)
    return python_from_micros(t)


def python_from_micros(t: int) -> datetime:
    """``from_micros`` in Python: the reference, and the way where the native module is not
    built. Seconds as a float are exact to a quarter of a microsecond until 2106 (2**32 s),
    so the fast conversion rounds back to ``t``; later times take the exact integer
    path."""
    return datetime.fromtimestamp(t / 1e6, _UTC) if 0 <= t < _EXACT else EPOCH + timedelta(0, 0, t)


_EXACT: Final = (1 << 32) * 1_000_000


def to_micros(time: datetime) -> int:
    """Microseconds since the epoch of an aware ``datetime`` (the inverse of
    ``from_micros``). Summed from the difference's days, seconds and microseconds: the
    same value as ``(time - EPOCH) // timedelta(microseconds=1)``, which works it out in
    Python integers and costs over twice as many instructions."""
    delta = time - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


DOUBLES_EXACT: Final = 1 << 53
"""Every integer up to this is a double: a sum of such integers whose result is one too is
worked out exactly in doubles."""


def bump(column: list[int], i: int, by: int) -> None:
    """``column[i] += by``. Compiled, an augmented item assignment adds the two as Python
    objects (``PyNumber_InPlaceAdd``); here the item is read as an int, added in C and
    stored back (the core's counters and decay buckets, several times per statement)."""
    column[i] = column[i] + by


def week_of(t: int) -> int:
    """Monday-based week number since the epoch: consecutive ISO weeks differ by one."""
    return (t // DAY_US + 3) // 7


class Decay:
    """Exponential decay by half-life, in fixed-point buckets.

    An evidence score ``s`` at time ``t`` falls in bucket ``b = t // span``
    (``span`` = 8 half-lives) and adds ``round(s * w * 2**40)`` to the
    bucket's score mass and ``round(w * 2**40)`` to its weight, where
    ``w = 2 ** ((t - end_b) / half_life)`` is its weight at the bucket's end
    (between 2**-8 and 1). Both are exact integers, so sums are independent
    of arrival order and a voided score is subtracted exactly. At time ``T``
    a bucket's sums are scaled by ``2 ** ((end_b - T) / half_life)``.
    """

    __slots__ = ("days", "half_life", "near", "span", "span_f")

    def __init__(self, half_life_days: float) -> None:
        self.days = half_life_days
        self.half_life = half_life_days * DAY_US
        self.span = round(self.half_life * BUCKET_HALF_LIVES)
        self.span_f = float(self.span)
        # the buckets either side of now's that ``scale`` works out in doubles
        self.near = DOUBLES_EXACT // self.span

    def quantize(self, t: int, score: float) -> tuple[int, int, int]:
        """(bucket, score mass, weight) of one evidence score. ``t - end_b`` is worked out
        as ``t % span - span``, the same integer without a product (``span`` is past the
        31 bits a compiled product takes without a Python integer)."""
        span = self.span
        w = _exp2((t % span - span) / self.half_life) * SCALE
        return t // span, round_even(score * w), round_even(w)

    def scale(self, bucket: int, now: int) -> float:
        """``2 ** ((end_b - now) / half_life)``, what a bucket's sums are scaled by at
        ``now``. Near ``now`` (``near``), ``end_b - now`` is worked out in doubles as
        ``k * span - now % span`` (``k = bucket + 1 - now // span``): each term and the
        result are integers below 2**53, so exact, and the double is the one the integer
        expression converts to. Compiled, ``(bucket + 1) * span`` goes through Python
        integers (``span`` is past the 31 bits a compiled product takes without them:
        about 700 instructions); a bucket further away takes that integer expression."""
        span = self.span
        k = bucket + 1 - now // span
        near = self.near
        if -near < k < near:
            return _exp2((k * self.span_f - now % span) / self.half_life)
        return _exp2(((bucket + 1) * span - now) / self.half_life)


_exp2: Final = math.exp2


def round_even(x: float) -> int:
    """``round(x)``: the nearest integer, a tie to the even one. Compiled, ``math.floor`` is
    C's and the rest integer and float arithmetic, where ``round`` is looked up among the
    builtins and called as a Python function (a tenth of the instructions). ``x - floor(x)``
    is exact for every double; NaN and the infinities raise as ``round`` does."""
    below = math.floor(x)
    part = x - below
    if part > 0.5 or (part == 0.5 and below & 1):
        return below + 1
    return below


_DECAYS: Final[dict[float, Decay]] = {}


def decay_for(half_life_days: float) -> Decay:
    decay = _DECAYS.get(half_life_days)
    if decay is None:
        decay = _DECAYS[half_life_days] = Decay(half_life_days)
    return decay


class Kept:
    """The kept statements: the newest applied (at most ``evidence_cap``), whole, as
    parallel columns sorted by statement key (event time, id halves)."""

    __slots__ = ("odd", "rc", "rh", "rl", "rt", "rv")

    def __init__(self) -> None:
        self.rt: list[int] = []
        """Event time (µs)."""
        self.rh: list[int] = []
        """High half of the statement id's 128 bits."""
        self.rl: list[int] = []
        """Low half."""
        self.rc: list[int] = []
        """Code: kind, evidence flag, one bit per skill named (``KIND_BITS``, ``EVIDENCE``,
        ``SKILL_SHIFT``)."""
        self.rv: list[float] = []
        """Evidence score (``NO_SCORE``: none)."""
        self.odd: dict[tuple[int, int], str] = {}
        """Text of the ids that are not canonical UUIDs, by id halves."""


class Totals:
    """Exact aggregates over every statement applied, kept or folded."""

    __slots__ = ("att_base", "att_day", "att_n", "counts", "day0", "longest", "runs")

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0, 0, 0]
        """Statements, courses, events, assessments, certifications, collaborations
        (``N_STATEMENTS`` ...)."""
        self.runs: list[int] = []
        """Runs of consecutive active weeks, ``[first, last, first, last, ...]``, oldest first."""
        self.longest = 0
        """Longest run of active weeks."""
        self.att_base = 0
        self.att_day: list[int] = []
        """Days with attendances (every applied one inside the longest window of the horizon),
        counted from ``att_base``, with their attendances in ``att_n``."""
        self.att_n: list[int] = []
        self.day0 = 0
        """Day of the first statement applied: the origin of the days in ``Skills.tails``."""


class Skills:
    """The skill table and its columns: a skill's index is its bit in the codes and its
    place in every column."""

    __slots__ = (
        "assessed",
        "best",
        "buckets",
        "courses",
        "events",
        "folded_best",
        "folded_last",
        "folded_latest",
        "folded_latest_t",
        "names",
        "tails",
        "touches",
    )

    def __init__(self) -> None:
        self.names: list[str] = []
        self.touches: list[int] = []
        """Statements naming the skill."""
        self.assessed: list[int] = []
        """Evidence scores for the skill."""
        self.courses: list[int] = []
        self.events: list[int] = []
        self.best: list[float] = []
        """Best evidence score of all (``NO_SCORE``: none)."""
        self.buckets: list[list[int]] = []
        """Decay buckets ``[bucket, score_mass, weight, ...]``, oldest first (see ``Decay``)."""
        self.folded_last: list[int] = []
        """Newest folded statement naming the skill (0: none)."""
        self.folded_latest_t: list[int] = []
        self.folded_latest: list[float] = []
        """Newest folded evidence (time, score; at one time the higher score; 0, -1.0: none)."""
        self.folded_best: list[float] = []
        self.tails: list[list[Any]] = []
        """Folded part of each skill's score history (see ``profile.push_tail``), its days
        counted from ``Totals.day0``."""


class Folded:
    """What remains of the statements folded out of the kept ones."""

    __slots__ = ("first_t", "fold_day0", "fold_days", "horizon")

    def __init__(self) -> None:
        self.horizon: tuple[int, int, int] | None = None
        """Key (time, id halves) of the newest folded statement; None until one is folded."""
        self.first_t = 0
        """Event time of the first statement, once one is folded."""
        self.fold_day0 = 0
        self.fold_days: list[int] = []
        """Folded statements per day from ``fold_day0`` on (inside the longest window)."""


class Memory:
    """What must never be applied or fired twice."""

    __slots__ = ("fired_hi", "fired_lo", "seen")

    def __init__(self) -> None:
        self.seen: list[int] = []
        """64-bit hashes of ids not to apply again beyond the kept statements (folded,
        voided, voiding), first in first out, at most ``dedupe_memory``."""
        self.fired_hi: list[int] = []
        """The milestones achieved, by id (halves); the high half alone identifies one.
        Never trimmed."""
        self.fired_lo: list[int] = []


class Exposures:
    """Activities that exposed the learner to skills, credited once per activity."""

    __slots__ = ("expo", "expo_folded")

    def __init__(self) -> None:
        self.expo: dict[int, list[int]] = {}
        """Kept exposures: id hash -> [activity key, code naming its skills, id high, id low]."""
        self.expo_folded: set[int] = set()
        """Activity keys whose credited exposure is folded."""


IDENTITY = ("learner", "decay")
"""The fields of ``ProfileState`` itself."""


class ProfileState:
    """One learner's profile state, in typed parts. ``apply`` mutates it in place and
    returns it.

    Treat it as opaque outside ``streams.core``: its layout may change with
    ``STATE_FORMAT_VERSION``. ``active`` tells whether any statement is applied
    (a state can hold only a pending voiding).
    """

    __slots__ = (
        "_fired_names",
        "_folds",
        "_goals",
        "_highs",
        "_hist",
        "_ids",
        "_index",
        "_keys",
        "_newest",
        "_rids",
        "_seen",
        "decay",
        "exposures",
        "folded",
        "kept",
        "learner",
        "memory",
        "skills",
        "totals",
    )

    def __init__(self, learner: str, half_life_days: float) -> None:
        self.learner = learner
        self.decay = decay_for(half_life_days)
        self.kept = Kept()
        self.totals = Totals()
        self.skills = Skills()
        self.folded = Folded()
        self.memory = Memory()
        self.exposures = Exposures()
        self.clear_caches()

    def clear_caches(self) -> None:
        """Drop what is derived in memory (rebuilt on demand, never encoded)."""
        self._rids: dict[int, int] | None = None
        self._seen: set[int] | None = None
        self._index: dict[str, int] | None = None
        self._keys: set[int] | None = None
        self._ids: list[str] | None = None
        """The ids achieved as text, sorted (kept up to date once built)."""
        self._goals: Any = None
        self._highs: dict[str, tuple[int, int]] | None = None
        """What ``milestones.known_halves`` worked out, per milestone key."""
        self._fired_names: set[str] | None = None
        """The milestone keys of every milestone achieved, once ``fired_names`` built it."""
        self._hist: tuple[Any, dict[int, list[Any]]] | None = None
        self._folds = 0
        """Statements folded since the state was built or decoded (positions in ``_hist``)."""
        self._newest: tuple[list[int], list[int], list[float]] | None = None
        """Per skill: the newest statement naming it, and its newest evidence (time, score)."""

    # --- public view ---------------------------------------------------------------------

    @property
    def half_life_days(self) -> float:
        """The half-life the decayed sums were built with (fixed for the state's life)."""
        return self.decay.days

    @property
    def active(self) -> bool:
        return bool(self.kept.rt) or self.folded.horizon is not None

    @property
    def newest(self) -> int:
        """Event time (µs) of the newest statement applied: the profile's clock."""
        if self.kept.rt:
            return self.kept.rt[-1]
        if self.folded.horizon is not None:
            return self.folded.horizon[0]
        raise ValueError(f"learner {self.learner!r}: no statement applied yet")

    @property
    def first(self) -> int:
        if self.folded.horizon is not None:
            return self.folded.first_t
        if self.kept.rt:
            return self.kept.rt[0]
        raise ValueError(f"learner {self.learner!r}: no statement applied yet")

    @property
    def achieved(self) -> tuple[str, ...]:
        """Ids of the milestones achieved, sorted."""
        ids = self._ids
        if ids is None:
            ids = self._ids = [
                uuid_text(hi, lo)
                for hi, lo in zip(self.memory.fired_hi, self.memory.fired_lo, strict=True)
            ]
            ids.sort()
        return tuple(ids)

    def add_fired(self, mid: str, hi: int, lo: int) -> None:
        """Remember a milestone achieved (its id as text and as its two 64-bit halves)."""
        self.memory.fired_hi.append(hi)
        self.memory.fired_lo.append(lo)
        self.fired_set().add(hi)
        ids = self._ids
        if ids is None and len(self.memory.fired_hi) == 1:
            self._ids = [mid]
        elif ids is not None:
            insort(ids, mid)

    # --- in-memory indexes -------------------------------------------------------------

    def rids(self) -> dict[int, int]:
        """64-bit hash of each kept statement's id -> its event time."""
        rids = self._rids
        if rids is None:
            rids = self._rids = dict(
                zip(map(xor, self.kept.rh, self.kept.rl), self.kept.rt, strict=True)
            )
        return rids

    def seen_set(self) -> set[int]:
        seen = self._seen
        if seen is None:
            seen = self._seen = set(self.memory.seen)
        return seen

    def index(self) -> dict[str, int]:
        index = self._index
        if index is None:
            index = self._index = {k: i for i, k in enumerate(self.skills.names)}
        return index

    def skill(self, name: str) -> int:
        """The index of a skill, added to the table if new."""
        index = self.index()
        i = index.get(name)
        if i is None:
            i = index[name] = len(self.skills.names)
            self.skills.names.append(name)
            for column in (
                self.skills.touches,
                self.skills.assessed,
                self.skills.courses,
                self.skills.events,
            ):
                column.append(0)
            self.skills.folded_last.append(0)
            self.skills.folded_latest_t.append(0)
            for scores in (self.skills.best, self.skills.folded_latest, self.skills.folded_best):
                scores.append(NO_SCORE)
            newest = self._newest
            if newest is not None:
                newest[0].append(0)
                newest[1].append(0)
                newest[2].append(NO_SCORE)
            self.skills.buckets.append([])
            self.skills.tails.append([])
        return i

    def fired_set(self) -> set[int]:
        """High halves of the ids of the milestones achieved."""
        keys = self._keys
        if keys is None:
            keys = self._keys = set(self.memory.fired_hi)
        return keys

    def fired_names(self) -> set[str] | None:
        """The milestone keys (``milestones.milestone_key``) of the milestones achieved, where
        the state knows them: built while it has achieved none, and kept by
        ``milestones.fire``, which adds each key it fires. None for a state decoded (or
        cleared) with achievements: only their ids are kept, and a key is known by its id."""
        names = self._fired_names
        if names is None and not self.memory.fired_hi:
            names = self._fired_names = set()
        return names

    def remember(self, hashes: Any, bound: int) -> None:
        """Add id hashes to the bounded first-in-first-out memory of seen ids."""
        seen = self.memory.seen
        known = self.seen_set()
        seen.extend(hashes)
        known.update(hashes)
        if len(seen) > bound:
            drop = len(seen) - bound
            known.difference_update(seen[:drop])
            del seen[:drop]
            if len(known) != len(seen):  # an id remembered twice
                self._seen = None

    def position(self, t: int, hi: int, lo: int) -> int:
        """The place among the kept statements of the one with key ``t, hi, lo``."""
        rt, rh, rl = self.kept.rt, self.kept.rh, self.kept.rl
        i = bisect_left(rt, t)
        while rh[i] != hi or rl[i] != lo:
            i += 1
        return i

    def id_text(self, i: int) -> str:
        """The id of kept statement ``i`` as sent."""
        hi = self.kept.rh[i]
        lo = self.kept.rl[i]
        odd = self.kept.odd.get((hi, lo)) if self.kept.odd else None
        return odd if odd is not None else uuid_text(hi, lo)

    def attended_since(self, day: int) -> int:
        """Attendances on ``day`` or later: added up from the newest day back, as a window's
        days are the newest (compiled, a loop costs less than a bisect, a slice and a sum)."""
        totals = self.totals
        days = totals.att_day
        counts = totals.att_n
        cut = day - totals.att_base
        total = 0
        k = len(days) - 1
        while k >= 0 and days[k] >= cut:
            total += counts[k]
            k -= 1
        return total

    def bump_attended(self, day: int, by: int) -> None:
        """Add ``by`` attendances on ``day`` (a count that reaches 0 goes)."""
        days = self.totals.att_day
        counts = self.totals.att_n
        if not days:
            if by > 0:
                self.totals.att_base = day
                days.append(0)
                counts.append(by)
            return
        offset = day - self.totals.att_base
        if offset < 0:
            if by <= 0:
                return
            self.totals.att_day = days = [d - offset for d in days]
            self.totals.att_base = day
            offset = 0
        i = bisect_left(days, offset)
        if i == len(days) or days[i] != offset:
            if by > 0:
                days.insert(i, offset)
                counts.insert(i, by)
            return
        if counts[i] + by <= 0:
            del days[i], counts[i]
        else:
            counts[i] += by

    def forget_attended(self, before: int) -> None:
        """Drop the attendances on days before ``before``."""
        days = self.totals.att_day
        if days and days[0] + self.totals.att_base < before:
            i = bisect_left(days, before - self.totals.att_base)
            del days[:i], self.totals.att_n[:i]

    def bump_day(self, day: int, by: int) -> None:
        """Count ``by`` more folded statements on ``day``."""
        days = self.folded.fold_days
        if not days:
            self.folded.fold_day0 = day
            days.append(0)
        elif day < self.folded.fold_day0:
            days[0:0] = repeat(0, self.folded.fold_day0 - day)
            self.folded.fold_day0 = day
        i = day - self.folded.fold_day0
        if i >= len(days):
            days.extend(repeat(0, i - len(days) + 1))
        days[i] += by


# --- encoding ------------------------------------------------------------------------------
#
# Format 4: header | JSON | arrays, little-endian, written and read field by field in the
# order of ``FIELDS``. The JSON holds the learner, the half-life, the length of each array
# and one entry per field: the field itself when it is small or irregular, else what it put
# in the arrays. The arrays are one per element type (``_TYPES``), each holding the numbers
# of every field of that type in field order, so a state is a handful of buffer copies.
# Formats 3 and 2 (one positional JSON array) are still read (``_decode_format3``).

_HEADER = struct.Struct("<BBI")
"""Version; flags (format 3: widths of the codes and of the folded-day counts; format 4: 0);
JSON size."""
_SWAP: Final = sys.byteorder != "little"
_WIDTHS: Final = ("B", "H", "I", "Q")
_TYPES: Final = ("B", "H", "I", "Q", "q", "d")
"""The arrays of format 4: unsigned 8 to 64 bits (a width's index is its array's), signed
64 bits, doubles."""
_Q: Final = 3
_SIGNED: Final = 4
_DOUBLE: Final = 5

# How a field goes on the wire.
NUMBER: Final = 0
"""One integer (of any sign), in the JSON."""
LIST: Final = 1
"""A list (of numbers, texts or lists), in the JSON: small numbers and short scores are
shorter as text."""
KEY: Final = 2
"""A statement key (time, id halves) or None: 1 or 0 in the JSON, the time and the halves in
their arrays."""
TEXTS: Final = 3
"""Texts by id halves, ``{(hi, lo): text}``: ``[[hi, lo, text], ...]`` sorted, in the JSON."""
UINTS: Final = 4
"""Integers >= 0, in the narrowest unsigned width that holds them all: ``4 * n + width`` in
the JSON (hex texts in the JSON when one needs more than 64 bits)."""
IDS: Final = 5
"""64-bit integers >= 0 (ids and hashes): always 64 bits wide."""
INTS: Final = 6
"""Signed 64-bit integers (times)."""
SCORES: Final = 7
"""Doubles that are mostly ``NO_SCORE``: the positions of the others (``UINTS``), then them."""
NESTED: Final = 8
"""A list of lists of signed 64-bit integers: their sizes in the JSON, their items flat."""
ROWS: Final = 9
"""``{key: [a, b, ...]}`` with rows of one length: ``[key, a, b, ...]`` sorted by key, flat,
as ``UINTS``."""
SET: Final = 10
"""A set of integers >= 0, sorted, as ``UINTS``."""

FIELDS: tuple[tuple[str, str, int], ...] = (
    ("kept", "rt", INTS),
    ("kept", "rh", IDS),
    ("kept", "rl", IDS),
    ("kept", "rc", UINTS),
    ("kept", "rv", SCORES),
    ("kept", "odd", TEXTS),
    ("totals", "counts", LIST),
    ("totals", "runs", LIST),
    ("totals", "longest", NUMBER),
    ("totals", "att_base", NUMBER),
    ("totals", "att_day", UINTS),
    ("totals", "att_n", UINTS),
    ("totals", "day0", NUMBER),
    ("skills", "names", LIST),
    ("skills", "touches", UINTS),
    ("skills", "assessed", UINTS),
    ("skills", "courses", UINTS),
    ("skills", "events", UINTS),
    ("skills", "best", LIST),
    ("skills", "buckets", NESTED),
    ("skills", "folded_last", INTS),
    ("skills", "folded_latest_t", INTS),
    ("skills", "folded_latest", LIST),
    ("skills", "folded_best", LIST),
    ("skills", "tails", LIST),
    ("folded", "horizon", KEY),
    ("folded", "first_t", NUMBER),
    ("folded", "fold_day0", NUMBER),
    ("folded", "fold_days", UINTS),
    ("memory", "seen", IDS),
    ("memory", "fired_hi", IDS),
    ("memory", "fired_lo", IDS),
    ("exposures", "expo", ROWS),
    ("exposures", "expo_folded", SET),
)
"""Every field ``encode_state`` keeps: (part of ``ProfileState``, field, how it goes on the
wire), in the order written. Adding a field to a part means adding it here; its round trip
is then tested (``tests/unit/streams/test_state_fields.py``)."""

PARTS: dict[str, tuple[str, ...]] = {}
"""The fields of ``FIELDS`` by part. The other slots of ``ProfileState`` are caches rebuilt
in memory (``clear_caches``)."""
for _part, _name, _ in FIELDS:
    PARTS[_part] = (*PARTS.get(_part, ()), _name)
_PLAN = tuple((list(PARTS).index(part), name, wire) for part, name, wire in FIELDS)
"""``FIELDS`` with each part by its place in ``_parts``."""


_FLAT: Final = tuple(
    (part, name) for part, name, wire in _PLAN if wire in (IDS, UINTS, INTS, SCORES, SET, TEXTS)
)
"""The fields ``untrack_state`` takes out of the collector's walks alone: number lists, a
set of numbers, texts by id."""
_NESTED: Final = tuple((part, name) for part, name, wire in _PLAN if wire in (LIST, NESTED, ROWS))
"""The fields whose lists inside it takes out too (their items are read: only these)."""

if len(_FLAT) + len(_NESTED) + sum(wire in (NUMBER, KEY) for _, _, wire in _PLAN) != len(_PLAN):
    raise AssertionError("untrack_state must know how each wire kind of FIELDS holds its values")


def _parts(state: ProfileState) -> tuple[Any, ...]:
    """The parts of a state, in the order of ``PARTS`` (checked below)."""
    return (state.kept, state.totals, state.skills, state.folded, state.memory, state.exposures)


if tuple(PARTS) != ("kept", "totals", "skills", "folded", "memory", "exposures"):
    raise AssertionError("_parts must list the parts in the order of FIELDS")


def _width(values: list[int]) -> int:
    """The narrowest unsigned width (index in ``_WIDTHS``) holding every value; 4: none."""
    top = 0
    for value in values:  # one pass, no call: this runs for every field of every flush
        if value > top:
            top = value
        elif value < 0:
            raise ValueError("profile state: a count or code below zero cannot be encoded")
    return (
        0
        if top < 0x100
        else 1
        if top < 0x10000
        else 2
        if top < 1 << 32
        else 3
        if top < 1 << 64
        else 4
    )


def _pack(tc: str, values: list[Any]) -> bytes:
    """``values`` as array ``tc``'s bytes, little-endian."""
    if _native_pack is not None:
        return _native_pack(tc, values)
    return python_pack(tc, values)


def python_pack(tc: str, values: list[Any]) -> bytes:
    """``_pack`` without the native module, and its reference."""
    if tc == "B":
        return bytes(values)  # the fast path of bytes() for a list of small numbers
    a = array(tc, values)
    if _SWAP:
        a.byteswap()
    return a.tobytes()


def _put_uints(values: list[int], pools: list[list[Any]]) -> Any:
    width = _width(values)
    if width == 4:
        return [f"{v:x}" for v in values]
    pools[width] += values
    return 4 * len(values) + width


def _put_scores(value: list[float], pools: list[list[Any]]) -> Any:
    at: list[int] = []
    doubles = pools[_DOUBLE]
    for i in range(len(value)):  # typed, so the compiled build compares unboxed doubles
        score = value[i]
        if score != NO_SCORE:
            at.append(i)
            doubles.append(score)
    return [len(value), _put_uints(at, pools)]


def _put_nested(value: list[list[int]], pools: list[list[Any]]) -> Any:
    signed = pools[_SIGNED]
    sizes: list[int] = []
    for items in value:
        signed += items
        sizes.append(len(items))
    return sizes


def _put(wire: int, value: Any, pools: list[list[Any]]) -> Any:
    """The JSON entry of one field, its numbers added to their arrays in ``pools``."""
    if wire == IDS:
        pools[_Q] += value
        return len(value)
    if wire == UINTS:
        return _put_uints(value, pools)
    if wire == INTS:
        pools[_SIGNED] += value
        return len(value)
    if wire in (NUMBER, LIST):
        return value
    if wire == SCORES:
        return _put_scores(value, pools)
    if wire == NESTED:
        return _put_nested(value, pools)
    if wire == ROWS:
        rows: list[int] = []
        for key in sorted(value):
            rows.append(key)
            rows += value[key]
        return [len(value), _put_uints(rows, pools)]
    if wire == SET:
        return _put_uints(sorted(value), pools)
    if wire == KEY:
        if value is None:
            return 0
        pools[_SIGNED].append(value[0])
        pools[_Q] += value[1:]
        return 1
    if wire == TEXTS:
        return [[hi, lo, text] for (hi, lo), text in sorted(value.items())] if value else None
    raise AssertionError(f"no wire kind {wire}")


def untrack_state(state: ProfileState) -> int:
    """Takes the state's parts and their fields' containers out of the cyclic collector's
    walks (``native/src/untrack.rs``); returns how many objects that was (0 without the
    native module: the collector then walks them, as it does any object).

    They hold numbers, texts and lists of them, never a cycle, and reference counting frees
    them; the collector's walks of them were its pauses in a worker holding many states
    (a full collection over 20,000 decoded states: about 1 s, over 8,000: 265–370 ms). The
    state itself stays tracked (its caches are rebuilt in memory, of any shape); a list the
    core makes later is tracked until the next call. Call it again whenever convenient:
    the profile stage does after decoding a state and after writing one back."""
    if _native_untrack is None:
        return 0
    parts = _parts(state)
    flat: list[Any] = list(parts)
    for part, name in _FLAT:
        flat.append(getattr(parts[part], name))
    nested: list[Any] = []
    for part, name in _NESTED:
        nested.append(getattr(parts[part], name))
    return _native_untrack(flat, nested)


def untrack_events(events: list[Any]) -> int:
    """Takes learning events (``LearningEvent``: texts, numbers, a time, a kind, a tuple of
    skills; no cycle) and their instance dicts out of the cyclic collector's walks; returns
    how many objects that was (0 without the native module).

    The profile stage holds each learner's events from the batch that applied them until
    the next write-back, to rebuild the state should the core fail on a later event: over
    20,000 learners at 25,000 statements/s the young and middle generations were mostly
    those events (60,000-100,000 of them, with their dicts), walked by every collection."""
    if _native_untrack is None or not events:
        return 0
    held: list[Any] = []
    for event in events:
        held.append(event)
        held.append(event.__dict__)
    return _native_untrack(held, [])


def encode_state(state: ProfileState) -> bytes:
    """The state as compact bytes, led by ``STATE_FORMAT_VERSION``."""
    pools: list[list[Any]] = [[], [], [], [], [], []]
    doc: list[Any] = [state.learner, state.decay.days, None]
    parts = _parts(state)
    for part, name, wire in _PLAN:
        doc.append(_put(wire, getattr(parts[part], name), pools))
    doc[2] = [len(pool) for pool in pools]
    text = orjson.dumps(doc)
    chunks = [_HEADER.pack(STATE_FORMAT_VERSION, 0, len(text)), text]
    for tc, pool in zip(_TYPES, pools, strict=True):
        if pool:
            chunks.append(_pack(tc, pool))
    return b"".join(chunks)


class _Reader:
    __slots__ = ("data", "offset")

    def __init__(self, data: memoryview, offset: int) -> None:
        self.data = data
        self.offset = offset

    def take(self, tc: str, n: int) -> list[Any]:
        if not n:
            return []
        a = array(tc)
        end = self.offset + n * a.itemsize
        if end > len(self.data):
            raise ValueError("profile state is truncated")
        a.frombytes(self.data[self.offset : end])
        self.offset = end
        if _SWAP:
            a.byteswap()
        return a.tolist()


def _wrong() -> ValueError:
    return ValueError("profile state has the wrong shape")


def _count(entry: Any) -> int:
    """A count or size from the JSON: an integer >= 0 (a bool is none)."""
    if type(entry) is not int or entry < 0:
        raise _wrong()
    return entry


class _Pools:
    """The arrays of a format-4 state, handed out field by field."""

    __slots__ = ("at", "pools")

    def __init__(self, pools: list[list[Any]]) -> None:
        self.pools = pools
        self.at = [0, 0, 0, 0, 0, 0]

    def take(self, k: int, n: int) -> list[Any]:
        start = self.at[k]
        end = start + n
        pool = self.pools[k]
        if end > len(pool):
            raise _wrong()
        self.at[k] = end
        return pool[start:end]

    def uints(self, entry: Any) -> list[int]:
        if type(entry) is list:  # wider than 64 bits: hex texts
            values = [int(h, 16) for h in entry]
            if any(v < 0 or f"{v:x}" != h for v, h in zip(values, entry, strict=True)):
                raise _wrong()
            return values
        packed = _count(entry)
        return self.take(packed & 3, packed >> 2)


def _take(wire: int, entry: Any, pools: _Pools) -> Any:
    """One field from its JSON entry and the arrays (the inverse of ``_put``)."""
    if wire == IDS:
        return pools.take(_Q, _count(entry))
    if wire == UINTS:
        return pools.uints(entry)
    if wire == INTS:
        return pools.take(_SIGNED, _count(entry))
    if wire == NUMBER:
        if type(entry) is not int:  # days and times before 1970 are negative
            raise _wrong()
        return entry
    if wire == LIST:
        if type(entry) is not list:
            raise _wrong()
        return entry
    if wire == SCORES:
        n, positions = entry
        if _count(n) > len(pools.pools[_SIGNED]):  # no more than there are times
            raise _wrong()
        values = [NO_SCORE] * n
        at = pools.uints(positions)
        if any(i >= j for i, j in pairwise(at)):
            raise _wrong()
        for i, v in zip(at, pools.take(_DOUBLE, len(at)), strict=True):
            values[i] = v
        return values
    if wire == NESTED:
        if type(entry) is not list:
            raise _wrong()
        return [pools.take(_SIGNED, _count(size)) for size in entry]
    if wire == ROWS:
        n, packed = entry
        rows = pools.uints(packed)
        if not _count(n):
            if rows:
                raise _wrong()
            return {}
        size = len(rows) // n
        if size < 1 or n * size != len(rows):
            raise _wrong()
        table = {rows[i]: rows[i + 1 : i + size] for i in range(0, len(rows), size)}
        if len(table) != n:
            raise _wrong()
        return table
    if wire == SET:
        members = pools.uints(entry)
        found = set(members)
        if len(found) != len(members):
            raise _wrong()
        return found
    if wire == KEY:
        if not _count(entry):
            return None
        if entry != 1:
            raise _wrong()
        hi, lo = pools.take(_Q, 2)
        return (pools.take(_SIGNED, 1)[0], hi, lo)
    if wire == TEXTS:
        if entry is None:
            return {}
        texts: dict[tuple[int, int], str] = {}
        for hi, lo, text in entry:
            if type(text) is not str:
                raise _wrong()
            texts[(_count(hi), _count(lo))] = text
        return texts
    raise AssertionError(f"no wire kind {wire}")


def _check(state: ProfileState) -> None:
    """Refuse a decoded state whose parts do not fit together."""
    kept, skills = state.kept, state.skills
    n = len(kept.rt)
    n_skills = len(skills.names)
    if (
        any(len(column) != n for column in (kept.rh, kept.rl, kept.rc, kept.rv))
        or any(
            len(column) != n_skills
            for column in (
                skills.touches,
                skills.assessed,
                skills.courses,
                skills.events,
                skills.best,
                skills.buckets,
                skills.folded_last,
                skills.folded_latest_t,
                skills.folded_latest,
                skills.folded_best,
                skills.tails,
            )
        )
        or len(state.totals.counts) != N_COUNTED
        or len(state.totals.att_day) != len(state.totals.att_n)
        or len(state.memory.fired_hi) != len(state.memory.fired_lo)
        or any(
            math.isnan(v) or v < 0.0 if c & EVIDENCE else v != NO_SCORE
            for c, v in zip(kept.rc, kept.rv, strict=True)
        )
    ):
        raise _wrong()
    expo = state.exposures.expo
    if expo:
        places = {(hi, lo): i for i, (hi, lo) in enumerate(zip(kept.rh, kept.rl, strict=True))}
        skills_above = 1 << n_skills
        for key, row in expo.items():
            if len(row) != 4:
                raise _wrong()
            _, code, hi, lo = row
            i = places.get((hi, lo))
            if (
                i is None
                or key != hi ^ lo
                or code & (KIND_BITS | EVIDENCE) != OTHER
                or not 0 < code >> SKILL_SHIFT < skills_above
                or kept.rc[i] not in (code, OTHER)
            ):
                raise _wrong()


def _decode_format4(data: bytes) -> ProfileState:
    state = ProfileState("", 1.0)  # every field is read below (a compiled class needs __init__)
    _, flags, doc_len = _HEADER.unpack_from(data)
    if flags:
        raise _wrong()
    view = memoryview(data)
    doc = orjson.loads(view[_HEADER.size : _HEADER.size + doc_len])
    if type(doc) is not list or len(doc) != 3 + len(FIELDS):
        raise _wrong()
    learner, half_life, sizes = doc[0], doc[1], doc[2]
    if type(learner) is not str or not _half_life(half_life):
        raise _wrong()
    if type(sizes) is not list or len(sizes) != len(_TYPES):
        raise _wrong()
    state.learner = learner
    state.decay = decay_for(half_life)
    read = _Reader(view, _HEADER.size + doc_len)
    pools = _Pools([read.take(tc, _count(n)) for tc, n in zip(_TYPES, sizes, strict=True)])
    if read.offset != len(view):
        raise _wrong()
    parts = _parts(state)
    for (part, name, wire), entry in zip(_PLAN, doc[3:], strict=True):
        setattr(parts[part], name, _take(wire, entry, pools))
    if pools.at != [len(pool) for pool in pools.pools]:
        raise _wrong()
    _check(state)
    return state  # its caches are empty: __init__ cleared them and nothing here fills one


_READABLE = (STATE_FORMAT_VERSION, 3, 2)


def decode_state(data: bytes) -> ProfileState:
    """Rebuild a state from ``encode_state`` bytes (this format or formats 3 and 2); other
    bytes raise ``ValueError``."""
    if not data or data[0] not in _READABLE:
        found: object = None
        if data and 2 <= data[0] < 0x20:  # a binary format, older or newer
            found = data[0]
        elif data[:1] == b"[":  # the first format was JSON
            try:
                old = orjson.loads(data)
            except orjson.JSONDecodeError:
                old = None
            if isinstance(old, list) and old and isinstance(old[0], int):
                found = old[0]
        if found is None or found in _READABLE:
            raise ValueError("not an encoded profile state")
        raise ValueError(
            f"profile state format {found!r} is not {STATE_FORMAT_VERSION}; "
            "rebuild the profiles by replaying learning.events"
        )
    if data[0] != STATE_FORMAT_VERSION:
        return _decode_format3(data)
    try:
        return _decode_format4(data)
    except (
        struct.error,
        orjson.JSONDecodeError,
        TypeError,
        ValueError,
        IndexError,
        KeyError,
        OverflowError,
        AttributeError,
    ) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("profile state"):
            raise
        raise _wrong() from None


def _decode_format3(data: bytes) -> ProfileState:
    """A state written in format 3 (or 2: format 3 without exposures)."""
    state = ProfileState("", 1.0)  # every field is read below (a compiled class needs __init__)
    try:
        _, flags, doc_len = _HEADER.unpack_from(data)
        codes = flags & 7
        days = flags >> 3 & 7
        view = memoryview(data)
        start = _HEADER.size
        doc = orjson.loads(view[start : start + doc_len])
        if len(doc) != (19 if data[0] == 2 else 21):
            raise ValueError("profile state has the wrong shape")
        (
            state.learner,
            half_life,
            state.totals.counts,
            state.totals.runs,
            state.totals.longest,
            state.skills.names,
            (
                state.skills.touches,
                state.skills.assessed,
                state.skills.courses,
                state.skills.events,
            ),
            (state.skills.best, state.skills.folded_latest, state.skills.folded_best),
            sizes,
            state.skills.tails,
            state.totals.day0,
            first_t,
            state.folded.fold_day0,
            state.totals.att_base,
            odd,
            wide_codes,
            (n, n_scores, n_seen, n_fired, n_days),
            wide_days,
            attendances,
        ) = doc[:19]
        exposures, n_exposed = doc[19:] if len(doc) == 21 else (None, 0)
        if (
            type(n_exposed) is not int  # a bool is no count
            or n_exposed < 0
            or not (exposures is None or (type(exposures) is list and exposures))
        ):
            raise ValueError("profile state has the wrong shape")
        n_skills = len(state.skills.names)
        read = _Reader(view, start + doc_len)
        kept = first_t is not None
        n_buckets = sum(sizes)
        times = read.take("q", n + 2 * n_skills + n_buckets + kept)
        ids = read.take("Q", 2 * n + n_seen + 2 * n_fired + 2 * kept)
        scores = read.take("d", n_scores)
        rc = [int(c, 16) for c in wide_codes] if codes == 4 else read.take(_WIDTHS[codes], n)
        state.folded.fold_days = (
            [int(d, 16) for d in wide_days] if days == 4 else read.take(_WIDTHS[days], n_days)
        )
        if len(attendances) == 3:
            n_att, offsets, attended = attendances
            state.totals.att_day = read.take(_WIDTHS[offsets], n_att)
            state.totals.att_n = read.take(_WIDTHS[attended], n_att)
        else:
            state.totals.att_day, state.totals.att_n = attendances
        n_kept_exposures = len(exposures) if exposures else 0
        keys = read.take("Q", n_kept_exposures + n_exposed)
        state.kept.rt = times[:n]
        state.skills.folded_last = times[n : n + n_skills]
        at = n + 2 * n_skills
        state.skills.folded_latest_t = times[n + n_skills : at]
        buckets: list[list[int]] = []
        for size in sizes:
            buckets.append(times[at : at + size])
            at += size
        state.skills.buckets = buckets
        state.kept.rh = ids[:n]
        state.kept.rl = ids[n : 2 * n]
        at = 2 * n + n_seen
        state.memory.seen = ids[2 * n : at]
        state.memory.fired_hi = ids[at : at + n_fired]
        state.memory.fired_lo = ids[at + n_fired : at + 2 * n_fired]
        if kept:
            state.folded.horizon = (times[-1], ids[-2], ids[-1])
            state.folded.first_t = first_t
        else:
            state.folded.horizon = None
            state.folded.first_t = 0
        expo: dict[int, list[int]] = {}
        if exposures:
            rh, rl = state.kept.rh, state.kept.rl
            skills = 1 << n_skills
            previous = -1
            for a, (i, c) in zip(keys, exposures, strict=False):
                code = int(c, 16)
                if not (
                    previous < i < n
                    and f"{code:x}" == c
                    and code & (KIND_BITS | EVIDENCE) == OTHER
                    and 0 < code >> SKILL_SHIFT < skills
                    and rc[i] in (code, OTHER)
                ):
                    raise ValueError("profile state has the wrong shape")
                previous = i
                expo[rh[i] ^ rl[i]] = [a, code, rh[i], rl[i]]
        state.exposures.expo = expo
        state.exposures.expo_folded = set(keys[n_kept_exposures:])
        if (
            read.offset != len(view)
            or len(rc) != n
            or len(expo) != n_kept_exposures
            or len(state.exposures.expo_folded) != n_exposed
            or len(sizes) != n_skills
            or len(state.skills.tails) != n_skills
            or any(
                len(column) != n_skills
                for column in (
                    state.skills.touches,
                    state.skills.assessed,
                    state.skills.best,
                    state.skills.folded_best,
                )
            )
        ):
            raise ValueError("profile state has the wrong shape")
        if not _half_life(half_life):
            raise ValueError("profile state has the wrong shape")
        state.decay = decay_for(half_life)
    except (struct.error, orjson.JSONDecodeError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("profile state"):
            raise
        raise ValueError("profile state has the wrong shape") from None
    rv = [NO_SCORE] * n
    if n_scores:
        for i, s in zip(compress(range(n), map(and_, rc, repeat(EVIDENCE))), scores, strict=True):
            rv[i] = s
    state.kept.rc = rc
    state.kept.rv = rv
    state.kept.odd = {(hi, lo): sid for hi, lo, sid in odd} if odd else {}
    return state  # its caches are empty: __init__ cleared them and nothing here fills one
