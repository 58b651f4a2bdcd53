"""Milestone rules, evaluated as of event time.

Take a learner's applied statements ordered by (event time, statement id).
A milestone (rule, skill, level) is achieved when its condition holds at
some *prefix* of that order, evaluated as of the prefix's last event time
(every window relative to it); its ``achieved_at``, evidence and summary are
those of the first such prefix. Each rule is a condition on the prefix and
on its last statement (the *trigger*: skill levels need evidence for the
skill, networker an attendance, continuous learner the first statement of a
week, the rules over several skills a skill crossing one of their marks).

In-order arrivals only add a prefix at the end, so only it is evaluated
(``evaluate_last``). A statement that arrives out of order changes every
prefix from its own on: those are evaluated again, from the kept statements
and exact aggregates, for the rules it can affect (``reevaluate``), and may
fire milestones whose ``achieved_at`` is in the past. Between triggers a
rule's figure cannot newly reach a threshold (decay and moving windows only
lower it), so evaluating triggers only finds the first prefix.

Figures are compared after rounding as the snapshot publishes them
(proficiency and scores to 4 places), so a milestone and the snapshot beside
it never disagree about a threshold. A level fires at most once per
(learner, rule, skill, level); every level reached fires, lowest first.
Voiding never retracts a milestone; it fires one only when it hands an exposure's
credit to the next kept repeat (``profile.apply``), evaluated like a late statement.

This module is the engine every rule kind shares: the figures as of a prefix
(``Figures``, ``PrefixFigures``), what has fired (``open_threshold``, ``reached``,
``fire``), evidence (``cite_*``), the protocol a kind implements (``RuleKind``,
``Scope``, ``At``, ``Late``) and the two drivers. The kinds themselves are the modules
of ``streams.core.kinds`` (docs/rule-kinds.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final

import orjson

from schemas.catalog import Catalog
from schemas.compiled import mypyc_attr, shared_native
from schemas.milestones import (
    _ID_NAMESPACE,  # the namespace of milestone ids
    MILESTONE_TYPE_PREFIX,
    MilestoneData,
    MilestoneEvent,
    MilestoneKind,
    name_number,
)
from schemas.trusted import trusted
from streams.core.rule_config import RuleConfig
from streams.core.state import (
    ATTENDED,
    DAY_US,
    EVIDENCE,
    KEEP_BUCKETS,
    KIND_BITS,
    MASK64,
    SCALE,
    SKILL_SHIFT,
    Decay,
    ProfileState,
    from_micros,
    uuid_text,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from streams.core.plan import Plan
    from streams.core.rules import Rules

SEP: Final = "\x1f"
_NAMESPACE: Final = _ID_NAMESPACE.bytes
_native: Final = shared_native()
_uuid5_halves: Final[Callable[[bytes, str], tuple[int, int]] | None] = (
    None if _native is None else _native.uuid5_halves
)
"""A milestone id's SHA-1 in Rust where the native module is built (``native/src/ids.rs``)."""
INF: Final = math.inf


def milestone_key(rule_id: str, skill: str | None, level: str) -> str:
    """The (rule, skill, level) an achievement is remembered by (the parts of its id)."""
    return f"{rule_id}{SEP}{skill or ''}{SEP}{level}"


def achieved(state: ProfileState, key: str, fired: set[int]) -> bool:
    """Whether the state's learner achieved the milestone ``key`` (``fired`` is
    ``state.fired_set()``): by the key itself where the state knows its achievements' keys
    (``ProfileState.fired_names``), else by the high half of its id, worked out once per key."""
    names = state.fired_names()
    if names is not None:
        return key in names
    return id_high(state, key) in fired


def id_high(state: ProfileState, key: str) -> int:
    """The high 64 bits of the id of the milestone ``key`` (a ``milestone_key``) of the
    state's learner: what the state remembers an achievement by."""
    return known_halves(state, key)[0]


def known_halves(state: ProfileState, key: str) -> tuple[int, int]:
    """``id_halves``, remembered per key in the state: a learner's keys are few, and each
    is asked for again (evaluations ask for the levels already fired each time a kind's
    goals are worked out, and ``fire`` for the id of the level it fires)."""
    highs = state._highs
    if highs is None:
        highs = state._highs = {}
    halves = highs.get(key)
    if halves is None:
        halves = highs[key] = id_halves(state, key)
    return halves


def id_halves(state: ProfileState, key: str) -> tuple[int, int]:
    """The id of the milestone ``key`` of the state's learner as its two 64-bit halves: a
    UUIDv5 (``schemas.milestones.milestone_id``), SHA-1 of its namespace and name."""
    name = f"{state.learner}{SEP}{key}"
    if _uuid5_halves is not None:
        halves: tuple[int, int] = _uuid5_halves(_NAMESPACE, name)
        return halves
    number = name_number(name)
    return number >> 64, number & MASK64


def round4(x: float) -> float:
    """Round a figure in [0, 1] to 4 places (half up): how every published figure is rounded."""
    return int(x * 10000.0 + 0.5) / 10000.0


# --- proficiency -------------------------------------------------------------------------


def level_of(decay: Decay, flat: list[int], now: int, prior_q: float) -> float:
    """Decayed proficiency S / (E + prior) at ``now`` of a ``[bucket, mass, weight, ...]``
    list, rounded to 4 places. Buckets 8 or more older than the newest weigh less than
    2**-56 of it and are left out, so what is stored of them never matters."""
    n = len(flat)
    if not n:
        return 0.0
    if n == 3:
        f = decay.scale(flat[0], now)
        return int(flat[1] * f / (flat[2] * f + prior_q) * 10000.0 + 0.5) / 10000.0
    low = flat[n - 3] - KEEP_BUCKETS
    s = e = 0.0
    for k in range(0, n, 3):
        b = flat[k]
        if b > low:
            f = decay.scale(b, now)
            s += flat[k + 1] * f
            e += flat[k + 2] * f
    return int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0


def level_without(
    decay: Decay, flat: list[int], now: int, prior_q: float, quant: tuple[int, int, int]
) -> float:
    """``level_of`` without one piece of evidence (the trigger's own)."""
    b, qs, qe = quant
    if len(flat) == 3:
        weight = flat[2] - qe
        if weight <= 0:
            return 0.0
        f = decay.scale(b, now)
        return int((flat[1] - qs) * f / (weight * f + prior_q) * 10000.0 + 0.5) / 10000.0
    rest = list(flat)
    for k in range(0, len(rest), 3):
        if rest[k] == b:
            rest[k + 1] -= qs
            rest[k + 2] -= qe
            if rest[k + 2] <= 0:
                del rest[k : k + 3]
            break
    return level_of(decay, rest, now, prior_q)


def level_pair(
    decay: Decay, flat: list[int], now: int, prior_q: float, quant: tuple[int, int, int]
) -> tuple[float, float]:
    """(``level_without``, ``level_of``) in one pass: the same sums, so the same figures."""
    n = len(flat)
    b, qs, qe = quant
    if n == 3:
        f = decay.scale(flat[0], now)
        after = int(flat[1] * f / (flat[2] * f + prior_q) * 10000.0 + 0.5) / 10000.0
        weight = flat[2] - qe
        if weight <= 0:
            return 0.0, after
        return int((flat[1] - qs) * f / (weight * f + prior_q) * 10000.0 + 0.5) / 10000.0, after
    top = flat[n - 3]
    if top == b and flat[n - 1] - qe <= 0:  # the newest bucket goes: the window moves
        return level_without(decay, flat, now, prior_q, quant), level_of(decay, flat, now, prior_q)
    low = top - KEEP_BUCKETS
    s = e = s2 = e2 = 0.0
    for k in range(0, n, 3):
        bucket = flat[k]
        if bucket > low:
            f = decay.scale(bucket, now)
            mass = flat[k + 1]
            weight = flat[k + 2]
            s += mass * f
            e += weight * f
            if bucket == b:
                mass -= qs
                weight -= qe
            s2 += mass * f
            e2 += weight * f
    return (
        int(s2 / (e2 + prior_q) * 10000.0 + 0.5) / 10000.0,
        int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0,
    )


def proficiency(
    state: ProfileState, skill: str, now: int | None = None, prior: float = 1.0
) -> float:
    """A skill's proficiency at ``now`` (default: the profile's clock), rounded, in [0, 1]."""
    i = state.index().get(skill)
    if i is None:
        return 0.0
    when = state.newest if now is None else now
    return level_of(state.decay, state.skills.buckets[i], when, prior * SCALE)


# --- figures as of a prefix ----------------------------------------------------------------


class Figures:
    """The profile's figures as of kept statement ``q``, the newest one."""

    __slots__ = ("decay", "now", "prior_q", "q", "state")

    def __init__(self, state: ProfileState, plan: Plan, q: int) -> None:
        self.state = state
        self.decay = state.decay
        self.prior_q = plan.prior_weight * SCALE
        self.q = q
        self.now = state.kept.rt[q]

    def level(self, i: int) -> float:
        return level_of(self.decay, self.state.skills.buckets[i], self.now, self.prior_q)

    def touches(self, i: int) -> int:
        return self.state.skills.touches[i]

    def assessed(self, i: int) -> int:
        return self.state.skills.assessed[i]

    def quant(self, q: int) -> tuple[int, int, int]:
        return self.state.decay.quantize(self.state.kept.rt[q], self.state.kept.rv[q])

    def levels(self, i: int, quant: tuple[int, int, int]) -> tuple[float, float]:
        """(proficiency without the trigger's evidence, proficiency), at the trigger."""
        return level_pair(self.decay, self.state.skills.buckets[i], self.now, self.prior_q, quant)

    def attended(self, cut: int) -> int:
        """Attendances on day ``cut`` or later, up to the trigger."""
        return self.state.attended_since(cut)


class PrefixFigures(Figures):
    """The figures as of any kept statement: the aggregates less the kept statements after it.

    Built as of just before kept statement ``j``; ``advance`` adds the next one."""

    __slots__ = ("_only", "_quants", "_skills_a", "_skills_b", "_skills_t")

    def __init__(self, state: ProfileState, plan: Plan, j: int, *, skills: int) -> None:
        """``skills``: the skills (a mask of bits) whose figures to follow (0: only the
        position moves)."""
        super().__init__(state, plan, j)
        self._quants: dict[int, tuple[int, int, int]] = {}
        self._only = skills << SKILL_SHIFT
        if skills:
            self._skills_b: list[list[int]] | None = [list(flat) for flat in state.skills.buckets]
            self._skills_t: list[int] = list(state.skills.touches)
            self._skills_a: list[int] = list(state.skills.assessed)
            for i in range(j, len(state.kept.rt)):
                self._move(i, -1)
        else:
            self._skills_b = None
        self.q = j - 1

    def _move(self, i: int, sign: int) -> None:
        skills_b = self._skills_b
        if skills_b is None:
            return
        state = self.state
        c = state.kept.rc[i]
        mask = (c & self._only) >> SKILL_SHIFT
        if not mask:
            return
        quant = self.quant(i) if c & EVIDENCE else None
        while mask:
            low = mask & -mask
            k = low.bit_length() - 1
            mask ^= low
            self._skills_t[k] += sign
            if quant is None:
                continue
            self._skills_a[k] += sign
            b, qs, qe = quant
            flat = skills_b[k]
            if sign > 0:
                _view_add(flat, b, qs, qe)
            else:
                _view_add(flat, b, -qs, -qe)

    def advance(self, q: int) -> None:
        self._move(q, 1)
        self.q = q
        self.now = self.state.kept.rt[q]

    def quant(self, q: int) -> tuple[int, int, int]:
        quant = self._quants.get(q)
        if quant is None:
            quant = self._quants[q] = self.state.decay.quantize(
                self.state.kept.rt[q], self.state.kept.rv[q]
            )
        return quant

    def level(self, i: int) -> float:
        assert self._skills_b is not None
        return level_of(self.decay, self._skills_b[i], self.now, self.prior_q)

    def touches(self, i: int) -> int:
        return self._skills_t[i]

    def assessed(self, i: int) -> int:
        return self._skills_a[i]

    def levels(self, i: int, quant: tuple[int, int, int]) -> tuple[float, float]:
        assert self._skills_b is not None
        return level_pair(self.decay, self._skills_b[i], self.now, self.prior_q, quant)

    def attended(self, cut: int) -> int:
        state = self.state
        count = state.attended_since(cut)
        rt, rc = state.kept.rt, state.kept.rc
        start = cut * DAY_US
        for i in range(self.q + 1, len(rt)):
            if rc[i] & KIND_BITS == ATTENDED and rt[i] >= start:
                count -= 1
        return count


def _view_add(flat: list[int], b: int, qs: int, qe: int) -> None:
    for k in range(0, len(flat), 3):
        if flat[k] == b:
            flat[k + 1] += qs
            flat[k + 2] += qe
            if flat[k + 2] <= 0:
                del flat[k : k + 3]
            return
        if flat[k] > b:
            flat[k:k] = (b, qs, qe)
            return
    flat += (b, qs, qe)


class LevelRule:
    """A compiled rule whose levels are thresholds on one number (the level field
    ``field`` of its configuration)."""

    __slots__ = ("first", "levels", "prefix", "rule", "rule_id", "suffixes")

    def __init__(self, rule_id: str, rule: Any, field: str) -> None:
        self.rule_id = rule_id
        self.rule = rule
        self.levels: tuple[tuple[str, float], ...] = tuple(
            (lvl.name, float(getattr(lvl, field))) for lvl in rule.levels
        )
        self.first = self.levels[0][1]
        self.prefix = f"{rule_id}\x1f"
        self.suffixes = tuple(f"\x1f{name}" for name, _ in self.levels)
        """A level's key in the fired set is ``prefix + (skill or '') + suffix``."""


# --- firing -------------------------------------------------------------------------------


def open_threshold(state: ProfileState, rule: LevelRule, skill: str) -> float:
    """The threshold of the rule's lowest level not fired yet (for ``skill``; ``""``
    when the milestone names none), or infinity when every level has fired."""
    fired = state.fired_set()
    if not fired:  # nothing achieved yet: no id to work out
        return rule.first
    head = rule.prefix + skill
    levels, suffixes = rule.levels, rule.suffixes
    for n in range(len(levels)):  # an index loop: zip() is a call, this is not
        if not achieved(state, head + suffixes[n], fired):
            return levels[n][1]
    return INF


def lowest_open(state: ProfileState, rules: Sequence[LevelRule], skill: str) -> float:
    """The lowest ``open_threshold`` of several rules."""
    lowest = INF
    for rule in rules:  # a loop: min() of a generator costs a generator and a call
        threshold = open_threshold(state, rule, skill)
        lowest = min(lowest, threshold)
    return lowest


def reached(
    state: ProfileState, rule: LevelRule, skill: str | None, value: float
) -> list[tuple[str, float]]:
    """The levels ``value`` reaches that have not fired yet, lowest first."""
    levels = rule.levels
    n = 0
    while n < len(levels) and value >= levels[n][1]:
        n += 1
    if not n:
        return []
    fired = state.fired_set()
    if not fired:
        return list(levels[:n])
    head = rule.prefix + (skill or "")
    suffixes = rule.suffixes
    return [levels[i] for i in range(n) if not achieved(state, head + suffixes[i], fired)]


def fire(
    state: ProfileState,
    out: list[MilestoneEvent],
    q: int,
    *,
    by: RuleKind,
    rule_id: str,
    skill: str | None,
    level: str,
    title: str,
    skills: tuple[str, ...],
    evidence: list[str],
    summary: dict[str, float | int | str],
) -> None:
    """Record and emit one milestone of the kind ``by``, achieved at kept statement ``q``
    (built as ``MilestoneEvent.of`` would build it; the unit tests check every kind
    against it and against full validation)."""
    learner = state.learner
    when = from_micros(state.kept.rt[q])
    kind = by.milestone_kind
    values = _DATA.copy()
    values["kind"] = kind
    values["rule"] = rule_id
    values["learner"] = learner
    values["level"] = level
    values["skill"] = skill
    values["skills"] = skills
    values["title"] = title
    values["evidence"] = unique(evidence)
    values["achieved_at"] = when
    values["summary"] = summary
    data = trusted(MilestoneData, values)
    key = milestone_key(rule_id, skill, level)
    hi, lo = known_halves(state, key)
    mid = uuid_text(hi, lo)
    names = state.fired_names()  # asked before the id is added: it knows the keys till then
    state.add_fired(mid, hi, lo)
    if names is not None:
        names.add(key)
    goals: dict[RuleKind, dict[Any, float]] | None = state._goals
    if goals is not None:
        known = goals.get(by)
        if known:
            by.forget(state, known, skill)
    envelope = _ENVELOPE.copy()
    envelope["id"] = mid
    envelope["type"] = MILESTONE_TYPE_PREFIX + kind
    envelope["subject"] = learner
    envelope["time"] = when
    envelope["data"] = data
    out.append(trusted(MilestoneEvent, envelope))


SHORT_LIST: Final = 16
"""Up to this many, ``unique`` scans what it has kept for each item; past it, a dict."""


def unique(items: list[str]) -> tuple[str, ...]:
    """``items`` without repeats, each where it first comes (``tuple(dict.fromkeys(items))``).
    Evidence is a few ids (at most ``max_evidence``, 10 by default): compiled, a scan of the
    ones kept costs half of what building a dict and a tuple of it did (about 2,100
    instructions a milestone, against 4,100)."""
    if len(items) > SHORT_LIST:
        return tuple(dict.fromkeys(items))
    kept: list[str] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return tuple(kept)


def _template(model: type[BaseModel]) -> dict[str, Any]:
    """A contract's fields in its order, each holding its default (``None`` where it has
    none): ``fire`` copies it and sets the rest. A copy takes the table whole, where a dict
    built key by key inserts each key afresh."""
    return {
        name: None if field.is_required() else field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
    }


_DATA: Final = _template(MilestoneData)
_ENVELOPE: Final = _template(MilestoneEvent)
_DATA_SIZE: Final = len(MilestoneData.model_fields)
_ENVELOPE_SIZE: Final = len(MilestoneEvent.model_fields)


def milestone_json(milestone: MilestoneEvent) -> bytes:
    """``milestone.model_dump_json().encode()``, byte for byte, written by orjson: what the
    profile stage produces for each milestone, in about 14,000 instructions where pydantic's
    serializer took 50,000. Datetimes are UTC (``UtcDatetime``), written
    as pydantic writes them (``Z``, the microseconds only when there are some); the kind is
    a ``str`` enum, written by value. A model's ``__dict__`` holds its fields in their order
    (``trusted`` fills it from a template, pydantic in field order; the tests hold both to
    it) and is written as it is: taking the fields one by one cost as much again as orjson,
    and checking the order of the keys a fifth of it. A milestone whose ``__dict__`` holds
    another number of keys than it has fields, or with extra fields, or with a value orjson
    does not write, is written by pydantic. The values are as validation leaves them (a
    ``trusted`` caller's duty): a ``bool`` in the summary, say, pydantic would write as
    ``1.0`` and orjson as ``true``."""
    data = milestone.data
    envelope = milestone.__dict__
    inner = data.__dict__
    if (
        milestone.__pydantic_extra__
        or data.__pydantic_extra__
        or len(envelope) != _ENVELOPE_SIZE
        or len(inner) != _DATA_SIZE
    ):
        return milestone.model_dump_json().encode()
    values = envelope.copy()
    values["data"] = inner
    try:
        return orjson.dumps(values, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return milestone.model_dump_json().encode()


# --- evidence ----------------------------------------------------------------------------------
#
# A milestone achieved at kept statement q cites q, then the newest statements before
# it that make up the figure, among the newest `evidence_window` statements up to q:
# a bound that depends only on the statements up to q, so a late arrival after q
# cannot change what an evaluation at q cites.


def window_start(plan: Plan, q: int) -> int:
    """The oldest kept statement a milestone achieved at ``q`` may cite."""
    start = q - plan.evidence_window + 1
    return start if start > 0 else 0


def cite_skill(state: ProfileState, plan: Plan, q: int, i: int) -> list[str]:
    """q, then the newest assessments of skill ``i``."""
    bit = 1 << (i + SKILL_SHIFT)
    out = [state.id_text(q)]
    rc, rv = state.kept.rc, state.kept.rv
    limit = plan.max_evidence
    k = q - 1
    start = window_start(plan, q)
    while k >= start and len(out) < limit:
        if rc[k] & bit and rv[k] >= 0.0:
            out.append(state.id_text(k))
        k -= 1
    return out


def cite_newest_of(
    state: ProfileState, plan: Plan, q: int, skills: Iterable[str], *, scored: bool
) -> list[str]:
    """q, then newest first one statement for each of ``skills`` (``scored``: one that
    assessed it)."""
    out = [state.id_text(q)]
    rc, rv = state.kept.rc, state.kept.rv
    wanted = mask_of(state, skills) & ~rc[q]
    limit = plan.max_evidence
    i = q - 1
    start = window_start(plan, q)
    while i >= start and wanted and len(out) < limit:
        hit = rc[i] & wanted
        if hit and (not scored or rv[i] >= 0.0):
            wanted &= ~hit
            out.append(state.id_text(i))
        i -= 1
    return out


def cite_back(
    state: ProfileState, plan: Plan, q: int, wanted: Callable[[int], bool | None]
) -> list[str]:
    """q, then newest first the statements before it for which ``wanted(k)`` is true;
    ``None`` stops the walk."""
    out = [state.id_text(q)]
    limit = plan.max_evidence
    k = q - 1
    start = window_start(plan, q)
    while k >= start and len(out) < limit:
        verdict = wanted(k)
        if verdict is None:
            break
        if verdict:
            out.append(state.id_text(k))
        k -= 1
    return out


def mask_of(state: ProfileState, names: Iterable[str]) -> int:
    """The code bits of the named skills the state knows."""
    index = state.index()
    mask = 0
    for k in names:
        i = index.get(k)
        if i is not None:
            mask |= 1 << (i + SKILL_SHIFT)
    return mask


def skill_name(catalog: Catalog, skill: str) -> str:
    """A skill's name for people (its id when the catalog does not know it)."""
    known = catalog.skills.get(skill)
    return known.name if known is not None else skill


def bits(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def history(state: ProfileState, plan: Plan, i: int, q: int) -> list[tuple[int, float, int]]:
    """The newest ``score_history - 1`` assessments of skill ``i`` kept before ``q``:
    ``(day, score, position)``, oldest first."""
    depth = plan.history - 1
    out: list[tuple[int, float, int]] = []
    if depth <= 0:
        return out
    bit = 1 << (i + SKILL_SHIFT)
    rt, rc, rv = state.kept.rt, state.kept.rc, state.kept.rv
    k = q - 1
    while k >= 0:
        if rc[k] & bit and rv[k] >= 0.0:
            out.append((rt[k] // DAY_US, rv[k], k))
            if len(out) >= depth:
                break
        k -= 1
    out.reverse()
    return out


def iso_week(week: int) -> str:
    """``2025-W03``: the ISO week of a week number (``state.week_of``).

    Worked out in integers, without a ``datetime``: an ISO week belongs to the year of its
    Thursday, and counts the Thursdays of that year up to it. Week ``w`` runs from day
    ``7w - 3`` (a Monday; day 0 is 1970-01-01, a Thursday), so its Thursday is day ``7w``.
    """
    thursday = week * 7
    year = civil_year(thursday)
    n = (thursday - days_before_year(year)) // 7 + 1
    return f"{year}-W0{n}" if n < 10 else f"{year}-W{n}"


def civil_year(day: int) -> int:
    """The proleptic Gregorian year of a day counted from 1970-01-01 (day 0)."""
    # Counted in 400-year eras from 0000-03-01, so that a leap day ends its year.
    z = day + 719_468
    era = z // 146_097
    doe = z - era * 146_097  # day of the era, [0, 146096]
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365  # [0, 399]
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the year from March 1
    return yoe + era * 400 + (1 if doy >= 306 else 0)  # January and February: the next year


def days_before_year(year: int) -> int:
    """Day number (from 1970-01-01) of January 1 of ``year``."""
    y = year - 1
    return 365 * y + y // 4 - y // 100 + y // 400 - 719_162


# --- words for people (the demo report's legend) ------------------------------------------


def points(proficiency: float) -> str:
    """A proficiency or score in [0, 1] as points out of 100: 0.85 -> ``85``, 0.555 -> ``55.5``."""
    return f"{round(proficiency * 100, 1):g}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 week``, ``3 weeks``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def level_text(name: str, threshold: str) -> str:
    """``specialist: 70``; just the threshold when the name says the same (``4-weeks``)."""
    if name.replace("-", " ").replace("_", " ") == threshold:
        return threshold
    return f"{name.replace('_', ' ')}: {threshold}"


# --- the protocol a rule kind implements ------------------------------------------------------


class Scope(IntEnum):
    """When a kind is evaluated at a prefix (each phase in the order of the kinds)."""

    LEARNER = 0
    """Once per statement, first: figures of the learner (weeks, attendances)."""
    SKILL = 1
    """Once per skill the statement assesses: figures of that skill."""
    PROFILE = 2
    """Last, once per statement that raised the proficiency of one of its skills or brought
    one to a count of statements a kind counts it at (``touch_counts``); in a
    re-evaluation also at the first prefix after a statement folded straight into the
    aggregates: figures over several skills."""


class At:
    """The prefix being evaluated: kept statement ``q`` and the figures as of it.

    ``c`` is the statement's code, ``t`` its time, ``skills`` the indexes of the skills it
    names, ``quant`` its evidence in fixed point (None: not evidence), ``new_week`` whether
    it made its week active. ``level`` and ``pair`` are computed once per skill and shared
    by the kinds evaluated here. In a re-evaluation (``late`` is set) the figures are those
    of the prefix, ``own`` tells whether ``q`` is the late statement itself and ``first``
    whether ``q`` is the first prefix evaluated again."""

    __slots__ = (
        "_levels",
        "_pairs",
        "c",
        "catalog",
        "fig",
        "first",
        "late",
        "new_week",
        "own",
        "plan",
        "q",
        "quant",
        "rising",
        "skills",
        "state",
        "t",
    )

    def __init__(
        self,
        state: ProfileState,
        plan: Plan,
        catalog: Catalog,
        fig: Figures,
        q: int,
        skills: list[int],
        quant: tuple[int, int, int] | None,
        new_week: bool,
    ) -> None:
        self.state = state
        self.plan = plan
        self.catalog = catalog
        self.fig = fig
        self.q = q
        self.t = state.kept.rt[q]
        self.c = state.kept.rc[q]
        self.skills = skills
        self.quant = quant
        self.new_week = new_week
        self.late: Late | None = None
        self.own = False
        self.first = False
        self._levels: dict[int, float] | None = None
        self._pairs: dict[int, tuple[float, float]] = {}
        self.rising: list[tuple[int, float, float]] | None = None

    def level(self, i: int) -> float:
        """Skill ``i``'s proficiency as of the prefix."""
        pair = self._pairs.get(i)
        if pair is not None:
            return pair[1]
        levels = self._levels
        if levels is None:
            levels = self._levels = {}
        p = levels.get(i)
        if p is None:
            p = levels[i] = self.fig.level(i)
        return p

    def pair(self, i: int) -> tuple[float, float]:
        """Skill ``i``'s proficiency without and with the statement's evidence."""
        pair = self._pairs.get(i)
        if pair is None:
            assert self.quant is not None
            pair = self._pairs[i] = self.fig.levels(i, self.quant)
        return pair

    def risen(self) -> list[tuple[int, float, float]]:
        """The statement's skills whose proficiency its evidence raised, with their
        proficiency without and with it."""
        rising = self.rising
        if rising is None:
            rising = self.rising = []
            if self.quant is not None:
                for i in self.skills:  # self.pair(i): compiled, a direct call (no bound method)
                    before, after = self.pair(i)
                    if after > before:
                        rising.append((i, before, after))
        return rising

    def rose(self) -> bool:
        """Whether the statement's evidence raised the proficiency of one of its skills."""
        return bool(self.risen())

    def reached_count(self) -> bool:
        """Whether one of the statement's skills reached, with it, a number of statements
        a kind counts a skill at (``RuleKind.touch_counts``)."""
        exposures = self.plan.exposures
        if exposures:
            fig = self.fig
            for i in self.skills:
                if fig.touches(i) in exposures:
                    return True
        return False

    def crossed(self, marks: Iterable[float]) -> bool:
        """Whether the statement's evidence lifted one of its skills across a mark."""
        for _, before, after in self.risen():
            for mark in marks:
                if before < mark <= after:
                    return True
        return False


class Late:
    """A statement that arrived out of order: time ``t``, code ``c``, inserted at kept
    position ``j``, or ``folded`` straight into the aggregates as older than every kept
    statement (then ``j`` is 0 and only the kept statements after it are prefixes)."""

    __slots__ = ("c", "catalog", "day", "folded", "j", "new_week", "plan", "state", "t")

    def __init__(
        self,
        state: ProfileState,
        plan: Plan,
        catalog: Catalog,
        j: int,
        t: int,
        c: int,
        new_week: bool,
        folded: bool,
    ) -> None:
        self.state = state
        self.plan = plan
        self.catalog = catalog
        self.j = j
        self.t = t
        self.c = c
        self.day = t // DAY_US
        self.new_week = new_week
        self.folded = folded

    @property
    def scored(self) -> int:
        """The skills (a mask of bits from 0) the late statement assessed."""
        c = self.c
        return c >> SKILL_SHIFT if c & EVIDENCE else 0


@mypyc_attr(allow_interpreted_subclasses=True)
class RuleKind:
    """A kind of milestone rule: its configuration, and how it is evaluated.

    A subclass lives in its own module of ``streams.core.kinds`` (or a module the rules
    file names in ``kind_modules``) as ``KIND``. It declares ``name`` (the ``kind`` of the
    rules file and of its milestones), ``config`` (the pydantic model of one rule,
    subclassing ``RuleConfig``), ``threshold`` (the level field that orders levels, if
    any) and ``scope``, and what statements can move its figures: ``on_evidence``,
    ``on_new_week``, ``on_kinds`` (statement kind codes); ``touch_counts`` (statements per
    skill) is set per instance. An instance is built per rules file with every enabled
    rule of the kind (``rules``: id and config), once; it is shared by every learner, so
    it keeps per-learner memory only in ``goals``.

    In order (``last``/``last_skill``): evaluate prefix ``at`` and fire what it reaches.
    Out of order: ``late`` says whether the late statement can move the kind's figures
    (``None``: no), and what it needs; ``follow`` which skills' figures the prefixes must
    carry; then ``prefix``/``prefix_skill`` evaluate every later prefix.
    """

    name: ClassVar[str]
    config: ClassVar[type[RuleConfig]]
    threshold: ClassVar[str | None] = None
    scope: ClassVar[Scope] = Scope.LEARNER
    order: ClassVar[int] = 100
    """Place among the kinds of its scope (the built-in ones use 0-9)."""
    on_evidence: ClassVar[bool] = False
    on_new_week: ClassVar[bool] = False
    on_kinds: ClassVar[frozenset[int]] = frozenset()
    always: ClassVar[bool] = False
    """LEARNER scope: evaluated at every statement in order, not only the ones above."""

    def __init__(self, rules: list[tuple[str, Any]], knobs: Rules) -> None:
        self.rules = rules
        self.windows: tuple[int, ...] = ()
        """Windows (days) its figures look back over: what a fold must keep per day."""
        self.touch_counts: frozenset[int] = frozenset()
        """Statements naming a skill at which it may newly count the skill."""
        self.milestone_kind: str = _milestone_kind(self.name)

    # --- per-learner memory ----------------------------------------------------------

    def goals(self, state: ProfileState) -> dict[Any, float]:
        """This kind's memory of one learner: usually the lowest threshold not reached yet
        (per skill, per rule), worked out as needed; not encoded."""
        memo: dict[RuleKind, dict[Any, float]] | None = state._goals
        if memo is None:
            memo = state._goals = {}
        goals = memo.get(self)
        if goals is None:
            goals = memo[self] = {}
        return goals

    def open_goal(
        self, state: ProfileState, key: Any, rules: Sequence[LevelRule], skill: str = ""
    ) -> float:
        """The lowest threshold of ``rules`` not reached yet (for ``skill``; ``""`` when the
        milestone names none), remembered in ``goals`` under ``key`` until ``forget``."""
        goals = self.goals(state)
        goal = goals.get(key)
        if goal is None:
            goal = goals[key] = lowest_open(state, rules, skill)
        return goal

    def rule_goal(self, state: ProfileState, n: int, rule: LevelRule) -> float:
        """``open_goal`` of the kind's rule ``n`` alone, for a milestone that names no skill."""
        return self.open_goal(state, n, (rule,))

    def forget(self, state: ProfileState, goals: dict[Any, float], skill: str | None) -> None:
        """A milestone of this kind fired (for ``skill``): what was open may be closed."""
        goals.clear()

    # --- in order ----------------------------------------------------------------------

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        """Evaluate the newest prefix (scopes LEARNER and PROFILE)."""

    def last_skill(self, at: At, i: int, out: list[MilestoneEvent]) -> None:
        """Evaluate the newest prefix for skill ``i`` it assesses (scope SKILL)."""

    # --- out of order ------------------------------------------------------------------

    def late(self, late: Late) -> Any:
        """What the late statement means for this kind (``None``: nothing to evaluate)."""
        return None

    def follow(self, interest: Any) -> int:
        """The skills (a mask of bits from 0; -1: all) whose figures prefixes must carry."""
        return 0

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        """Evaluate a prefix after a late statement (scopes LEARNER and PROFILE)."""

    def prefix_skill(self, at: At, interest: Any, i: int, out: list[MilestoneEvent]) -> None:
        """Evaluate a prefix after a late statement for skill ``i`` (scope SKILL)."""

    # --- for people -------------------------------------------------------------------

    @classmethod
    def explain(cls, config: Any, knobs: Rules) -> tuple[str, tuple[str, ...]]:
        """What a rule of this kind means, and its levels, in words (the demo report);
        by default the first line of the kind's docstring and each level's threshold."""
        levels = getattr(config, "levels", ())
        field = cls.threshold
        return (
            (getattr(cls, "__doc__", None) or cls.name).strip().splitlines()[0],
            tuple(
                level_text(lvl.name, f"{getattr(lvl, field):g}") if field else lvl.name
                for lvl in levels
            ),
        )


def _milestone_kind(name: str) -> str:
    try:
        return MilestoneKind(name)
    except ValueError:
        return name


# --- the drivers ----------------------------------------------------------------------------


def exposed(state: ProfileState, plan: Plan, skills: list[int]) -> bool:
    """Whether a skill of the statement just reached a count a kind counts it at."""
    touches = state.skills.touches
    exposures = plan.exposures
    return any(touches[i] in exposures for i in skills)


def evaluate_last(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    q: int,
    skills: list[int],
    quant: tuple[int, int, int] | None,
    new_week: bool,
    out: list[MilestoneEvent],
) -> None:
    """Fire what the newest kept statement ``q`` (just appended) made reachable.

    ``skills``: its skills; ``quant``: its evidence in fixed point; ``new_week``: it
    made its week active. Each kind checks its lowest open thresholds first and
    computes figures only when the statement can move them."""
    at = At(state, plan, catalog, Figures(state, plan, q), q, skills, quant, new_week)
    for kind in plan.learner_calls[(at.c & KIND_BITS) | (new_week << 4)]:
        kind.last(at, out)
    if not skills:
        return
    if quant is not None:
        pairs = at._pairs
        for i in skills:  # every kind of the skill phase wants them, most of the profile's
            pairs[i] = level_pair(state.decay, state.skills.buckets[i], at.t, at.fig.prior_q, quant)
        skill_kinds = plan.skill_kinds
        if skill_kinds:
            for i in skills:
                for kind in skill_kinds:
                    kind.last_skill(at, i, out)
    profile_kinds = plan.profile_kinds
    if profile_kinds and (at.rose() or at.reached_count()):
        for kind in profile_kinds:
            kind.last(at, out)


def reevaluate(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    j: int,
    t: int,
    c: int,
    new_week: bool,
    folded: bool,
    out: list[MilestoneEvent],
) -> None:
    """Evaluate again the prefixes a late statement changed.

    The statement (time ``t``, code ``c``) was inserted at kept position ``j``,
    or, ``folded``, went straight into the aggregates as older than every kept
    statement (then ``j`` is 0 and the rules are evaluated at the kept
    statements after it only). Only kinds whose figures it moved and that still
    have a level to reach are evaluated, and each only at prefixes that
    trigger it."""
    rt, rc = state.kept.rt, state.kept.rc
    n = len(rt)
    if j >= n:
        return
    late = Late(state, plan, catalog, j, t, c, new_week, folded)
    learner: list[tuple[RuleKind, Any]] = []
    per_skill: list[tuple[RuleKind, Any]] = []
    profile: list[tuple[RuleKind, Any]] = []
    follow = 0
    for kind in plan.kinds:
        interest = kind.late(late)
        if interest is None:
            continue
        follow |= kind.follow(interest)
        scope = kind.scope
        (
            learner if scope is Scope.LEARNER else per_skill if scope is Scope.SKILL else profile
        ).append((kind, interest))
    if not (learner or per_skill or profile):
        return
    fig = PrefixFigures(state, plan, j, skills=follow)
    for q in range(j, n):
        fig.advance(q)
        cq = rc[q]
        quant = fig.quant(q) if cq & EVIDENCE else None
        at = At(state, plan, catalog, fig, q, bits(cq >> SKILL_SHIFT), quant, False)
        at.late = late
        at.own = q == j and not folded
        at.first = q == j
        for kind, interest in learner:
            kind.prefix(at, interest, out)
        if quant is not None and per_skill:
            for i in at.skills:
                for kind, interest in per_skill:
                    kind.prefix_skill(at, interest, i, out)
        if profile and ((at.first and folded) or at.rose() or at.reached_count()):
            for kind, interest in profile:
                kind.prefix(at, interest, out)
