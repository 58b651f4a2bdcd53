"""Milestone rules, evaluated after each statement is folded into a profile.

A statement can only raise the figures it touches, so only the rules it can
move are evaluated: continuous learner when it made its week active,
networker when it is an attendance inside the window, the proficiency rules
when it carries assessment evidence, soft skills when it names a soft skill.
Figures are compared after rounding as the snapshot publishes them
(proficiency and scores to 4 places), so a milestone and the snapshot beside
it never disagree about a threshold. A level fires at most once per
(learner, rule, skill, level); every level reached fires, lowest first.

Proficiency is evaluated at the profile's clock (the newest event time), also
for a late statement; ``achieved_at`` is the event time of the statement
whose application crossed the threshold. Voiding never fires a milestone.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import datetime
from math import exp2
from operator import itemgetter
from typing import Any

from schemas.catalog import Catalog, Ladder
from schemas.milestones import (
    MILESTONE_DATA_VERSION,
    MILESTONE_DATASCHEMA,
    MILESTONE_SOURCE,
    MILESTONE_TYPE_PREFIX,
    MilestoneData,
    MilestoneEvent,
    MilestoneKind,
    milestone_id,
)
from streams.core.contracts import trusted
from streams.core.rules import LevelRule, Plan, SoftSkillsRule, VersatileRule
from streams.core.state import (
    ATTENDED,
    DAY_US,
    R_ID,
    R_KIND,
    R_SCORE,
    R_SKILLS,
    R_TIME,
    SCALE,
    ProfileState,
    Record,
    SkillAgg,
    from_micros,
    week_of,
)

SEP = "\x1f"


def proficiency(state: ProfileState, agg: SkillAgg | None, now: int, prior: float) -> float:
    """Decayed proficiency S / (E + prior) at ``now``, rounded to 4 places, in [0, 1]."""
    if agg is None or not agg.buckets:
        return 0.0
    return _proficiencies(state, agg.buckets, now, prior, None)[1]


def round4(x: float) -> float:
    """Round a figure in [0, 1] to 4 places (half up): how every published figure is rounded."""
    return int(x * 10000.0 + 0.5) / 10000.0


def _proficiencies(
    state: ProfileState,
    buckets: dict[int, list[int]],
    now: int,
    prior: float,
    quant: tuple[int, int, int] | None,
) -> tuple[float, float]:
    """(proficiency without the evidence ``quant``, proficiency) at ``now``, rounded.

    Sums are kept in fixed-point units (``SCALE`` per fresh score). The second
    figure is what the snapshot publishes; it does not depend on the order in
    which the buckets were created.
    """
    decay = state.decay
    span = decay.span
    half_life = decay.half_life
    prior_q = prior * SCALE
    if len(buckets) == 1:
        for b, (qs, qe) in buckets.items():
            f = exp2(((b + 1) * span - now) / half_life)
            s = qs * f
            e = qe * f
            if quant is None or b != quant[0]:
                p = int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0
                return p, p
            p = int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0
            f_rec = f
    else:
        s = e = 0.0
        f_rec = 0.0
        # Two terms add up the same either way round; three or more are summed oldest first.
        for b in buckets if len(buckets) == 2 else sorted(buckets):
            qs, qe = buckets[b]
            f = exp2(((b + 1) * span - now) / half_life)
            s += qs * f
            e += qe * f
            if quant is not None and b == quant[0]:
                f_rec = f
        p = int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0
        if quant is None or not f_rec:
            return p, p
    assert quant is not None
    before = (s - quant[1] * f_rec) / (e - quant[2] * f_rec + prior_q)
    return int(before * 10000.0 + 0.5) / 10000.0, p


def milestone_key(rule_id: str, skill: str | None, level: str) -> str:
    """How ``ProfileState.fired`` names an achievement (the parts of its milestone id)."""
    return f"{rule_id}{SEP}{skill or ''}{SEP}{level}"


def evaluate(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    rec: Record,
    when: datetime,
    run: int,
    in_order: bool,
    quant: tuple[int, int, int] | None,
    out: list[MilestoneEvent],
) -> None:
    """Fire every milestone the statement ``rec`` (just applied) made reachable.

    ``run`` is the length of the week run the statement made active (0: its
    week already was); ``quant`` is its evidence as added to the decayed sums.
    Rules over several skills (soft skills, versatile, role ready) are
    evaluated in full only when one of the statement's skills crossed one of
    their thresholds: between crossings their answer cannot newly turn true.
    """
    _, _, code, skills, ev = rec
    if run:
        for rule in plan.continuous:
            _continuous(state, plan, rule, rec, when, run, out)
    if code == ATTENDED:
        for rule, window in plan.networker:
            _networker(state, plan, rule, window, rec, when, out)
    if not skills:
        return
    records = state.records
    now = records[-1][R_TIME] if records else state.newest
    aggs = state.skills
    rising: dict[str, tuple[float, float]] | None = None
    if quant is not None:
        prior = plan.prior_weight
        minus = quant if plan.multi_skill else None
        skill_rules = plan.skill_level
        boosts = plan.boost
        for k in skills:
            agg = aggs[k]
            before, p = _proficiencies(state, agg.buckets, now, prior, minus)
            if p > before:
                if rising is None:
                    rising = {}
                rising[k] = (before, p)
            if agg.goal_plan is not plan:
                _set_goals(state, plan, k, agg)
            fired_before = len(out)
            if p >= agg.goal:
                for rule in skill_rules:
                    if p >= rule.first:
                        _skill_level(state, plan, catalog, rule, k, p, rec, when, out)
            if plan.trend:
                skill = catalog.skills.get(k)
                if skill is not None and skill.emerging is not None:
                    _trend(state, plan, catalog, k, p, rec, when, out)
            if boosts and (
                not in_order
                or (
                    ev >= agg.boost_goal
                    and ev - min(map(_SCORE, agg.recent)) + _HALF_UNIT >= agg.boost_goal
                )
            ):
                for rule, window in boosts:
                    _boost(state, plan, catalog, rule, window, k, rec, when, in_order, out)
            if len(out) > fired_before:
                agg.goal_plan = None
        if rising is not None:
            if plan.role_ready and _crosses(rising, _ladder_levels(catalog)):
                for rule_id, role_rule in plan.role_ready:
                    for ladder in catalog.ladders.values():
                        if not role_rule.ladders or ladder.id in role_rule.ladders:
                            _role_ready(state, plan, rule_id, ladder, rec, when, out)
            for rule, versatile in plan.versatile:
                breadth = versatile.breadth_proficiency
                deep = versatile.deep_proficiency
                for before, after in rising.values():
                    if before < breadth <= after or before < deep <= after:
                        _versatile(state, plan, catalog, rule, versatile, rec, when, out)
                        break
    for rule, soft in plan.soft_skills:
        for k in skills:
            crossing = rising.get(k) if rising is not None else None
            if (
                aggs[k].touches == soft.min_exposure
                or (crossing is not None and crossing[0] < soft.min_proficiency <= crossing[1])
            ) and catalog.category(k) in soft.categories:
                _soft_skills(state, plan, catalog, rule, soft, rec, when, out)
                break


def _trend(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    skill_id: str,
    p: float,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
) -> None:
    skill = catalog.skills.get(skill_id)
    if skill is None or skill.emerging is None or not skill.emerging.covers(when.date()):
        return
    for rule in plan.trend:
        if p >= rule.first:
            since = str(skill.emerging.start)
            _skill_level(state, plan, catalog, rule, skill_id, p, rec, when, out, since=since)


def _set_goals(state: ProfileState, plan: Plan, skill: str, agg: SkillAgg) -> None:
    """Cache the lowest thresholds of the skill's level and boost rules that have not
    fired yet: until a figure reaches one, those rules have nothing to check."""
    fired = state.fired
    goal = boost_goal = math.inf
    for rule in plan.skill_level:
        head = rule.prefix + skill
        for (_, threshold), suffix in zip(rule.levels, rule.suffixes, strict=True):
            if head + suffix not in fired:
                goal = min(goal, threshold)
                break
    for rule, _ in plan.boost:
        head = rule.prefix + skill
        for (_, threshold), suffix in zip(rule.levels, rule.suffixes, strict=True):
            if head + suffix not in fired:
                boost_goal = min(boost_goal, threshold)
                break
    agg.goal = goal
    agg.boost_goal = boost_goal
    agg.goal_plan = plan


def _crosses(rising: dict[str, tuple[float, float]], marks: dict[str, tuple[float, ...]]) -> bool:
    """Whether a rising skill passed one of its marks (before < mark <= after)."""
    for k, (before, after) in rising.items():
        for mark in marks.get(k, ()):
            if before < mark <= after:
                return True
    return False


def _crossed(
    state: ProfileState, rule: LevelRule, skill: str | None, value: float
) -> list[tuple[str, float]]:
    """The levels ``value`` reaches that have not fired yet, lowest first.

    Checks the highest level reached first: once it has fired, so have all
    below it (levels reached together fire together, lowest first)."""
    levels = rule.levels
    n = 0
    while n < len(levels) and value >= levels[n][1]:
        n += 1
    if not n:
        return []
    fired = state.fired
    head = rule.prefix + (skill or "")
    suffixes = rule.suffixes
    if head + suffixes[n - 1] in fired:
        return []
    return [levels[i] for i in range(n) if head + suffixes[i] not in fired]


def _all_fired(state: ProfileState, rule: LevelRule) -> bool:
    fired = state.fired
    return all(key in fired for key in rule.learner_keys)


def _fire(
    state: ProfileState,
    out: list[MilestoneEvent],
    *,
    rule_id: str,
    kind: MilestoneKind,
    skill: str | None,
    level: str,
    title: str,
    skills: tuple[str, ...],
    evidence: list[str],
    when: datetime,
    summary: dict[str, float | int | str],
) -> None:
    """Record and emit one milestone (built as ``MilestoneEvent.of`` would build it;
    the unit tests check every kind against it and against full validation)."""
    learner = state.learner
    data = trusted(
        MilestoneData,
        {
            "version": MILESTONE_DATA_VERSION,
            "kind": kind,
            "rule": rule_id,
            "learner": learner,
            "level": level,
            "skill": skill,
            "skills": skills,
            "title": title,
            "evidence": tuple(dict.fromkeys(evidence)),
            "achieved_at": when,
            "summary": summary,
        },
    )
    mid = milestone_id(learner, rule_id, skill, level)
    state.fired[milestone_key(rule_id, skill, level)] = mid
    out.append(
        trusted(
            MilestoneEvent,
            {
                "specversion": "1.0",
                "id": mid,
                "source": MILESTONE_SOURCE,
                "type": MILESTONE_TYPE_PREFIX + kind.value,
                "subject": learner,
                "time": when,
                "datacontenttype": "application/json",
                "dataschema": MILESTONE_DATASCHEMA,
                "data": data,
            },
        )
    )


def _name(catalog: Catalog, skill: str) -> str:
    known = catalog.skills.get(skill)
    return known.name if known is not None else skill


def _kept(state: ProfileState, rec: Record, limit: int, keep: Any) -> list[str]:
    """``rec``'s id, then the newest kept records for which ``keep(record)`` holds."""
    out = [rec[R_ID]]
    for r in reversed(state.records):
        if len(out) >= limit:
            break
        if r[R_ID] != rec[R_ID] and keep(r):
            out.append(r[R_ID])
    return out


def _skill_evidence(state: ProfileState, plan: Plan, rec: Record, skill: str) -> list[str]:
    """``rec``'s id, then the newest kept assessments of ``skill``."""
    sid = rec[R_ID]
    out = [sid]
    limit = plan.max_evidence
    for r in reversed(state.records):
        if len(out) >= limit:
            break
        if r[R_SCORE] is not None and skill in r[R_SKILLS] and r[R_ID] != sid:
            out.append(r[R_ID])
    return out


def _skill_level(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    rule: LevelRule,
    skill: str,
    p: float,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
    since: str | None = None,
) -> None:
    crossed = _crossed(state, rule, skill, p)
    if not crossed:
        return
    evidence = _skill_evidence(state, plan, rec, skill)
    name = _name(catalog, skill)
    agg = state.skills[skill]
    for level, threshold in crossed:
        summary: dict[str, float | int | str] = {
            "proficiency": p,
            "threshold": threshold,
            "assessments": agg.assessed,
        }
        if since is None:
            title = f"Reached {level} level in {name}"
        else:
            title = f"Early adopter of {name}: reached {level} level while it is emerging"
            summary["emerging_since"] = since
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=skill,
            level=level,
            title=title,
            skills=(skill,),
            evidence=evidence,
            when=when,
            summary=summary,
        )


def _run_bounds(state: ProfileState, week: int) -> tuple[int, int]:
    weeks = state.weeks
    lo = hi = bisect_left(weeks, [week])
    while lo > 0 and weeks[lo - 1][0] == weeks[lo][0] - 1:
        lo -= 1
    while hi + 1 < len(weeks) and weeks[hi + 1][0] == weeks[hi][0] + 1:
        hi += 1
    return weeks[lo][0], weeks[hi][0]


def _continuous(
    state: ProfileState,
    plan: Plan,
    rule: LevelRule,
    rec: Record,
    when: datetime,
    run: int,
    out: list[MilestoneEvent],
) -> None:
    crossed = _crossed(state, rule, None, run)
    if not crossed:
        return
    first, last = _run_bounds(state, week_of(rec[R_TIME]))
    taken: set[int] = {week_of(rec[R_TIME])}

    def one_per_week(r: Record) -> bool:
        w = week_of(r[R_TIME])
        if first <= w <= last and w not in taken:
            taken.add(w)
            return True
        return False

    evidence = _kept(state, rec, plan.max_evidence, one_per_week)
    for level, threshold in crossed:
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=f"Learned {run} weeks in a row",
            skills=(),
            evidence=evidence,
            when=when,
            summary={
                "weeks": run,
                "threshold": int(threshold),
                "first_week": _iso_week(first),
                "last_week": _iso_week(last),
            },
        )


def _iso_week(week: int) -> str:
    iso = from_micros((week * 7 - 3) * DAY_US).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _networker(
    state: ProfileState,
    plan: Plan,
    rule: LevelRule,
    window: int,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
) -> None:
    cut = state.newest // DAY_US - window + 1
    if rec[R_TIME] // DAY_US < cut or _all_fired(state, rule):
        return
    attended = state.attended
    count = sum(map(itemgetter(1), attended[bisect_left(attended, [cut]) :]))
    crossed = _crossed(state, rule, None, count)
    if not crossed:
        return
    start = cut * DAY_US
    evidence = _kept(
        state, rec, plan.max_evidence, lambda r: r[R_KIND] == ATTENDED and r[R_TIME] >= start
    )
    for level, threshold in crossed:
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=f"Attended {count} events in {window} days",
            skills=(),
            evidence=evidence,
            when=when,
            summary={"events_in_window": count, "threshold": int(threshold), "window_days": window},
        )


def _boost(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    rule: LevelRule,
    window: int,
    skill: str,
    rec: Record,
    when: datetime,
    in_order: bool,
    out: list[MilestoneEvent],
) -> None:
    """Compare the new score with the lowest of the skill's recent scores within the
    window before it (and, for a late statement, with the highest of those after it).

    "Within the window" means on one of the ``window`` UTC days ending on the
    later statement's day."""
    recent = state.skills[skill].recent
    t = rec[R_TIME]
    mine = [t, rec[R_SCORE]]
    at = len(recent) - 1
    if not in_order:
        while at >= 0 and recent[at] != mine:
            at -= 1
    if at < 0 or recent[at] != mine:
        return
    score = mine[1]
    since = (t // DAY_US - window + 1) * DAY_US
    first = 0
    while first < at and recent[first][0] < since:
        first += 1
    low: list[Any] | None = min(recent[first:at], key=_SCORE, default=None)
    gain = score - low[1] if low is not None else -1.0
    pair: tuple[list[Any], list[Any] | None] = (mine, low)
    if not in_order:
        until = (t // DAY_US + window) * DAY_US
        high: list[Any] | None = None
        for e in recent[at + 1 :]:
            if e[0] >= until:
                break
            if high is None or e[1] > high[1]:
                high = e
        if high is not None and high[1] - score > gain:
            gain = high[1] - score
            pair = (high, mine)
    if gain <= 0.0:
        return
    gain = round4(gain)
    if gain < rule.first:
        return
    crossed = _crossed(state, rule, skill, gain)
    if not crossed:
        return
    improved, baseline = pair
    assert baseline is not None
    evidence = [
        rec[R_ID] if entry is mine else _assessment_id(state, skill, entry)
        for entry in (improved, baseline)
    ]
    name = _name(catalog, skill)
    for level, threshold in crossed:
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=skill,
            level=level,
            title=f"Improved {name} by {round(gain * 100)} points",
            skills=(skill,),
            evidence=[sid for sid in evidence if sid is not None],
            when=when,
            summary={
                "score": round4(improved[1]),
                "baseline": round4(baseline[1]),
                "improvement": gain,
                "margin": threshold,
                "window_days": window,
            },
        )


def _assessment_id(state: ProfileState, skill: str, entry: list[Any]) -> str | None:
    """The id of the kept assessment of ``skill`` behind a recent-score entry, if still kept."""
    t, score = entry
    records = state.records
    i = bisect_left(records, [t])
    while i < len(records) and records[i][R_TIME] == t:
        r = records[i]
        if r[R_SCORE] == score and skill in r[R_SKILLS]:
            return str(r[R_ID])
        i += 1
    return None


_SCORE = itemgetter(1)
_HALF_UNIT = 0.00005
"""Half the last published place: a difference this far below a margin rounds up to it."""

_LADDER_LEVELS: list[Any] = [(), {}]
"""The ladders last seen (the objects, which pins their ids) and what they require."""


def _ladder_levels(catalog: Catalog) -> dict[str, tuple[float, ...]]:
    """skill -> every level a role of any ladder of ``catalog`` requires of it."""
    ladders = tuple(catalog.ladders.values())
    seen: tuple[Ladder, ...] = _LADDER_LEVELS[0]
    if len(seen) == len(ladders) and all(a is b for a, b in zip(seen, ladders, strict=True)):
        cached: dict[str, tuple[float, ...]] = _LADDER_LEVELS[1]
        return cached
    levels: dict[str, set[float]] = {}
    for ladder in ladders:
        for role in ladder.roles:
            for r in role.requires:
                levels.setdefault(r.skill, set()).add(r.level)
    compiled = {k: tuple(sorted(v)) for k, v in levels.items()}
    _LADDER_LEVELS[:] = [ladders, compiled]
    return compiled


def _role_ready(
    state: ProfileState,
    plan: Plan,
    rule_id: str,
    ladder: Ladder,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
) -> None:
    """The next role is the first role of the ladder, in ladder order, that has
    requirements and is not yet reached; reaching it makes the one after it next."""
    now = state.newest
    for role in ladder.roles:
        if not role.requires:
            continue
        qualified = f"{ladder.id}/{role.id}"
        if milestone_key(rule_id, qualified, role.id) in state.fired:
            continue
        figures = {
            r.skill: proficiency(state, state.skills.get(r.skill), now, plan.prior_weight)
            for r in role.requires
        }
        if any(figures[r.skill] < r.level for r in role.requires):
            return
        skills = tuple(sorted(figures))
        evidence = _kept(state, rec, plan.max_evidence, _newest_per_skill(set(skills)))
        summary: dict[str, float | int | str] = {
            "ladder": ladder.id,
            "role": role.id,
            "requirements": len(role.requires),
        }
        for r in role.requires:
            summary[f"proficiency.{r.skill}"] = figures[r.skill]
            summary[f"required.{r.skill}"] = r.level
        _fire(
            state,
            out,
            rule_id=rule_id,
            kind=MilestoneKind.ROLE_READY,
            skill=qualified,
            level=role.id,
            title=f"Ready for {role.name} ({ladder.name})",
            skills=skills,
            evidence=evidence,
            when=when,
            summary=summary,
        )


def _newest_per_skill(wanted: set[str]) -> Any:
    """A filter taking, newest first, one assessed record for each skill still wanted."""

    def keep(r: Record) -> bool:
        if r[R_SCORE] is None:
            return False
        hit = [k for k in r[R_SKILLS] if k in wanted]
        wanted.difference_update(hit)
        return bool(hit)

    return keep


def _versatile(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    rule: LevelRule,
    cfg: VersatileRule,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
) -> None:
    if _all_fired(state, rule):
        return
    now = state.newest
    prior = plan.prior_weight
    breadth = cfg.breadth_proficiency
    deep: tuple[float, str] | None = None
    by_category: dict[str, tuple[float, str]] = {}
    for k in sorted(state.skills):
        p = proficiency(state, state.skills[k], now, prior)
        if p < breadth:
            continue
        category = catalog.category(k)
        if category is None:
            continue
        if p >= cfg.deep_proficiency and (deep is None or p > deep[0]):
            deep = (p, k)
        held = by_category.get(category)
        if held is None or p > held[0]:
            by_category[category] = (p, k)
    if deep is None:
        return
    crossed = _crossed(state, rule, None, len(by_category))
    if not crossed:
        return
    others = sorted({k for _, k in by_category.values()} - {deep[1]})
    skills = (deep[1], *others)
    evidence = _kept(state, rec, plan.max_evidence, _newest_per_skill(set(skills)))
    for level, threshold in crossed:
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=(
                f"Versatile: deep in {_name(catalog, deep[1])}, skilled across "
                f"{len(by_category)} categories"
            ),
            skills=skills,
            evidence=evidence,
            when=when,
            summary={
                "deep_skill": deep[1],
                "deep_proficiency": deep[0],
                "categories": len(by_category),
                "threshold": int(threshold),
            },
        )


def _soft_skills(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    rule: LevelRule,
    cfg: SoftSkillsRule,
    rec: Record,
    when: datetime,
    out: list[MilestoneEvent],
) -> None:
    if _all_fired(state, rule):
        return
    now = state.newest
    exposure = cfg.min_exposure
    held: list[str] = []
    for k, agg in state.skills.items():
        if catalog.category(k) not in cfg.categories:
            continue
        if (exposure is not None and agg.touches >= exposure) or proficiency(
            state, agg, now, plan.prior_weight
        ) >= cfg.min_proficiency:
            held.append(k)
    crossed = _crossed(state, rule, None, len(held))
    if not crossed:
        return
    skills = tuple(sorted(held))
    wanted = set(skills)

    def newest_touch(r: Record) -> bool:
        hit = [k for k in r[R_SKILLS] if k in wanted]
        wanted.difference_update(hit)
        return bool(hit)

    evidence = _kept(state, rec, plan.max_evidence, newest_touch)
    for level, threshold in crossed:
        _fire(
            state,
            out,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=f"Developed {len(held)} soft skills",
            skills=skills,
            evidence=evidence,
            when=when,
            summary={"soft_skills": len(held), "threshold": int(threshold)},
        )
