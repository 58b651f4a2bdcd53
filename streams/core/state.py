"""The profile state of one learner, and its compact byte encoding.

The state is built for a hot path and a small table value, not for reading:
plain lists, ints and a few slotted objects, encoded with orjson. It holds

- ``records``: the newest statements applied (at most ``evidence_cap``),
  whole, sorted by (event time, statement id). They are what voiding can withdraw and what
  milestones cite as evidence. A record is the list
  ``[time_us, statement_id, kind_code, skills, evidence_score]``.
- exact aggregates over *every* statement applied (kept or folded): integer
  counters, per-week and per-day counts, and per-skill decayed assessment
  mass as fixed-point integers per time bucket (see ``Decay``). Integer sums
  do not depend on the order they were added in, which is what makes a
  snapshot identical for any arrival order of the same statements.
- ``base``: what is left of statements folded out of ``records`` (the oldest
  first): the newest folded key (the *horizon*), the first activity, per-skill
  maxima and per-day activity inside the longest window.
- ``seen``: ids that must not be applied again beyond the kept records
  (folded statements, voided targets, voiding statements), first in first
  out, at most ``dedupe_memory`` of them; ``rids`` indexes the kept records.
- ``fired``: every milestone the learner achieved (key -> milestone id). It
  is never trimmed: a milestone must not fire twice.

Times are integer microseconds since the Unix epoch (UTC, taken as
``round(time.timestamp() * 1e6)``, exact for any aware datetime); days and ISO weeks
are counted from it (``day = t // DAY_US``, ``week = (day + 3) // 7``, weeks
starting on Monday).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import orjson

from schemas.events import EventKind

STATE_FORMAT_VERSION = 1
"""Bumped on any change to the encoding; ``decode_state`` refuses others."""

DAY_US = 86_400_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SCALE = float(1 << 40)
"""Fixed-point scale of the decayed evidence sums."""
BUCKET_HALF_LIVES = 8
"""A decay bucket spans this many half-lives."""
KEEP_BUCKETS = 8
"""A skill keeps its decay buckets less than this many buckets older than its newest."""

KINDS: tuple[EventKind, ...] = tuple(EventKind)
KIND_CODE: dict[EventKind, int] = {k: i for i, k in enumerate(KINDS)}
COMPLETED = KIND_CODE[EventKind.COURSE_COMPLETED]
PASSED = KIND_CODE[EventKind.COURSE_PASSED]
ATTENDED = KIND_CODE[EventKind.EVENT_ATTENDED]
CERTIFIED = KIND_CODE[EventKind.CERTIFICATION_EARNED]
COLLABORATED = KIND_CODE[EventKind.COLLABORATION]

# Positions in ProfileState.counts.
N_STATEMENTS, N_COURSES, N_EVENTS, N_ASSESSMENTS, N_CERTIFICATIONS, N_COLLABORATIONS = range(6)

# Positions in a record.
R_TIME, R_ID, R_KIND, R_SKILLS, R_SCORE = range(5)

_ID = itemgetter(1)
_TIME = itemgetter(0)

Record = list[Any]
"""``[time_us, statement_id, kind_code, skills, evidence_score | None]``"""


def from_micros(t: int) -> datetime:
    return EPOCH + timedelta(microseconds=t)


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

    __slots__ = ("days", "half_life", "span")

    def __init__(self, half_life_days: float) -> None:
        self.days = half_life_days
        self.half_life = half_life_days * DAY_US
        self.span = round(self.half_life * BUCKET_HALF_LIVES)

    def quantize(self, t: int, score: float) -> tuple[int, int, int]:
        """(bucket, score mass, weight) of one evidence score."""
        bucket = t // self.span
        w = math.exp2((t - (bucket + 1) * self.span) / self.half_life) * SCALE
        return bucket, round(score * w), round(w)


class SkillAgg:
    """Aggregates of one skill over every statement applied that named it."""

    __slots__ = (
        "assessed",
        "best",
        "boost_goal",
        "buckets",
        "courses",
        "events",
        "goal",
        "goal_plan",
        "last",
        "recent",
        "touches",
    )

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = {}
        self.assessed = 0
        self.courses = 0
        self.events = 0
        self.touches = 0
        self.last = 0
        self.best: float | None = None
        self.recent: list[list[Any]] = []
        """The newest ``score_history`` evidence entries ``[t, score]``, sorted (oldest first;
        at one time, the higher score counts as the newer)."""
        self.goal_plan: object = None
        """The rules ``goal`` and ``boost_goal`` were worked out for (a cache, not encoded)."""
        self.goal = 0.0
        """Lowest proficiency threshold of this skill's level rules not fired yet."""
        self.boost_goal = 0.0
        """Lowest performance-boost margin of this skill not fired yet."""

    def dump(self) -> list[Any]:
        flat: list[int] = []
        for b, (qs, qe) in self.buckets.items():
            flat += (b, qs, qe)
        return [
            flat,
            self.assessed,
            self.courses,
            self.events,
            self.touches,
            self.last,
            self.best,
            self.recent,
        ]

    @classmethod
    def load(cls, raw: list[Any]) -> SkillAgg:
        agg = cls.__new__(cls)
        flat = raw[0]
        agg.buckets = {flat[i]: [flat[i + 1], flat[i + 2]] for i in range(0, len(flat), 3)}
        (_, agg.assessed, agg.courses, agg.events, agg.touches, agg.last, agg.best, agg.recent) = (
            raw
        )
        agg.goal_plan = None
        agg.goal = agg.boost_goal = 0.0
        return agg


class Base:
    """What remains of the statements folded out of ``records``."""

    __slots__ = ("days", "first", "horizon_id", "horizon_t", "skills")

    def __init__(self, first: int) -> None:
        self.horizon_t = first
        """Event time of the newest folded statement (with ``horizon_id``, its key)."""
        self.horizon_id = ""
        self.first = first
        self.days: list[list[int]] = []
        """``[day, statements]`` of folded statements inside the longest window, by day."""
        self.skills: dict[str, list[Any]] = {}
        """skill -> ``[last_time, latest_time, latest_score, best_score]`` of folded
        statements (the last three ``None`` until one carried evidence)."""

    def dump(self) -> list[Any]:
        return [self.horizon_t, self.horizon_id, self.first, self.days, self.skills]

    @classmethod
    def load(cls, raw: list[Any]) -> Base:
        base = cls.__new__(cls)
        base.horizon_t, base.horizon_id, base.first, base.days, base.skills = raw
        return base


class ProfileState:
    """One learner's profile state. ``apply`` mutates it in place and returns it.

    Treat it as opaque outside ``streams.core``: its layout may change with
    ``STATE_FORMAT_VERSION``. ``active`` tells whether any statement is applied
    (a state can hold only a pending voiding).
    """

    __slots__ = (
        "attended",
        "base",
        "counts",
        "decay",
        "fired",
        "learner",
        "longest",
        "records",
        "rids",
        "seen",
        "skills",
        "streak",
        "weeks",
    )

    def __init__(self, learner: str, half_life_days: float) -> None:
        self.learner = learner
        self.decay = Decay(half_life_days)
        self.records: list[Record] = []
        self.rids: dict[str, int] = {}
        self.counts = [0, 0, 0, 0, 0, 0]
        self.weeks: list[list[int]] = []
        """``[week, statements]`` of every applied statement, by week."""
        self.streak = 0
        """Consecutive active weeks ending with the newest active week."""
        self.longest = 0
        self.attended: list[list[int]] = []
        """``[day, events attended]`` of every applied attendance inside the longest window."""
        self.skills: dict[str, SkillAgg] = {}
        self.base: Base | None = None
        self.seen: dict[str, None] = {}
        self.fired: dict[str, str] = {}

    @property
    def half_life_days(self) -> float:
        """The half-life the decayed sums were built with (fixed for the state's life)."""
        return self.decay.days

    @property
    def active(self) -> bool:
        return bool(self.records) or self.base is not None

    @property
    def newest(self) -> int:
        """Event time (µs) of the newest statement applied: the profile's clock."""
        if self.records:
            return int(self.records[-1][R_TIME])
        if self.base is not None:
            return self.base.horizon_t
        raise ValueError(f"learner {self.learner!r}: no statement applied yet")

    @property
    def first(self) -> int:
        if self.base is not None:
            return self.base.first
        if self.records:
            return int(self.records[0][R_TIME])
        raise ValueError(f"learner {self.learner!r}: no statement applied yet")


def encode_state(state: ProfileState) -> bytes:
    """The state as compact JSON bytes, led by ``STATE_FORMAT_VERSION``."""
    base = state.base
    return orjson.dumps(
        [
            STATE_FORMAT_VERSION,
            state.learner,
            state.half_life_days,
            state.records,
            state.counts,
            state.weeks,
            state.streak,
            state.longest,
            state.attended,
            {k: agg.dump() for k, agg in state.skills.items()},
            None if base is None else base.dump(),
            list(state.seen),
            state.fired,
        ]
    )


def decode_state(data: bytes) -> ProfileState:
    """Rebuild a state from ``encode_state`` bytes; other bytes raise ``ValueError``."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not an encoded profile state: {exc}") from None
    if not isinstance(raw, list) or not raw or raw[0] != STATE_FORMAT_VERSION:
        found = raw[0] if isinstance(raw, list) and raw else type(raw).__name__
        raise ValueError(
            f"profile state format {found!r} is not {STATE_FORMAT_VERSION}; "
            "rebuild the profiles by replaying learning.events"
        )
    if len(raw) != 13:
        raise ValueError("profile state has the wrong shape")
    state = ProfileState.__new__(ProfileState)
    (
        _,
        state.learner,
        half_life,
        state.records,
        state.counts,
        state.weeks,
        state.streak,
        state.longest,
        state.attended,
        skills,
        base,
        seen,
        state.fired,
    ) = raw
    state.decay = Decay(half_life)
    state.seen = dict.fromkeys(seen)
    records = state.records
    state.rids = dict(zip(map(_ID, records), map(_TIME, records), strict=True))
    state.skills = {k: SkillAgg.load(v) for k, v in skills.items()}
    state.base = None if base is None else Base.load(base)
    return state
