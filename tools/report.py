"""The demo's HTML report: milestones over time, what they mean, and learners' journeys.

Written for the people who plan learning, not for engineers: dates read as
dates ("2 Jul 2026"), axes have round ticks, proficiency is a score out of 100
(as milestone titles say "improved by 20 points"), and a legend says what each
milestone kind means with the thresholds of the rules actually used
(``milestone_legend`` reads them from a ``Rules`` object, so it cannot drift
from the configuration).

Learners are shown by display name when the caller passes a mapping from
learner key to name (the demo takes it from the simulator's roster: the
pipeline itself stores no names), and by learner key otherwise.

Self-contained (inline SVG and CSS, no scripts, no network), so it opens in any
browser and survives being mailed around. Input is what the SQL sink holds. It
never reads the clock: the caller says when the report was generated.
"""

from __future__ import annotations

import html
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from streams.core import Rules
from streams.core.kinds import kinds as rule_kinds
from streams.core.kinds.skill_level_reached import SkillLevelRule
from streams.core.milestones import points

PALETTE = {
    "skill_level_reached": "#4e79a7",
    "continuous_learner": "#f28e2b",
    "networker": "#e15759",
    "soft_skills": "#76b7b2",
    "trend_adopter": "#59a14f",
    "performance_boost": "#edc948",
    "versatile": "#b07aa1",
    "role_ready": "#ff9da7",
}
CATEGORY_COLORS = {
    "technical": "#4e79a7",
    "soft": "#76b7b2",
    "networking": "#e15759",
    "leadership": "#f28e2b",
    "domain": "#59a14f",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""Month abbreviations, spelled here so no locale setting changes the report."""


@dataclass(frozen=True)
class MilestoneRow:
    learner: str
    kind: str
    level: str
    skill: str | None
    title: str
    achieved_at: datetime


@dataclass(frozen=True)
class Journey:
    learner: str
    persona: str
    milestones: Sequence[MilestoneRow]
    snapshot: dict[str, Any]


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# --- dates -----------------------------------------------------------------


def _as_date(value: date | datetime | str) -> date:
    """A calendar day: a datetime's UTC day (naive ones are taken as UTC), an ISO string's."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    return value


def format_date(value: date | datetime | str) -> str:
    """``2 Jul 2026``: day without a leading zero, month abbreviated, year."""
    day = _as_date(value)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def format_day(value: date | datetime | str) -> str:
    """``2 Jul``: for labels where the year is plain from the context."""
    day = _as_date(value)
    return f"{day.day} {MONTHS[day.month - 1]}"


def format_period(first: date | datetime | str, last: date | datetime | str) -> str:
    """``5 Jan – 3 Jul 2026``, or ``5 Dec 2025 – 3 Jul 2026`` across a new year."""
    a, b = _as_date(first), _as_date(last)
    if a == b:
        return format_date(a)
    if a.year == b.year:
        return f"{format_day(a)} – {format_date(b)}"
    return f"{format_date(a)} – {format_date(b)}"


def format_moment(moment: datetime) -> str:
    """``2 Dec 2026 at 19:53`` in the moment's own time zone (named when it has a name)."""
    zone = moment.tzname() if moment.tzinfo is not None else None
    text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} at {moment:%H:%M}"
    return f"{text} {zone}" if zone else text


# --- axes ------------------------------------------------------------------


def nice_ticks(maximum: float, intervals: int = 5) -> list[int]:
    """Round ticks from 0 covering ``maximum``: steps of 1, 2 or 5 times a power of ten,
    the smallest that needs at most ``intervals`` intervals (37 gives 0, 10, 20, 30, 40)."""
    if maximum <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            count = math.ceil(maximum / step)
            if count <= intervals:
                return [step * i for i in range(count + 1)]
        magnitude *= 10


@dataclass(frozen=True)
class TimeAxis:
    """Where a time axis draws its tick lines, and its labels (text centred on a day)."""

    lines: tuple[date, ...]
    labels: tuple[tuple[date, str], ...]


def _month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def time_axis(first: date, last: date, most: int = 12) -> TimeAxis:
    """Ticks for the days ``first`` to ``last``.

    Up to about two months: a line and a label (``5 Jan``) on Mondays, every
    week or every few weeks. Longer: a line at the start of every month (or of
    every 2nd, 3rd, 6th or 12th month, calendar-aligned: quarters start in
    January, April, July, October), at most ``most`` of them. Month by month,
    each month is labelled in the middle of its stretch of the axis (a stretch
    shorter than 8 days is left unlabelled); with longer steps the label sits
    at the line. The first label and every January carry the year.
    """
    if last < first:
        first, last = last, first
    if (last - first).days <= 62:
        monday = first + timedelta(days=-first.weekday() % 7)
        mondays = []
        while monday <= last:
            mondays.append(monday)
            monday += timedelta(weeks=1)
        step = max(1, math.ceil(len(mondays) / most))
        chosen = tuple(mondays[::step])
        return TimeAxis(chosen, tuple((d, format_day(d)) for d in chosen))
    starts = []
    month = _month_start(first, 0 if first.day == 1 else 1)
    while month <= last:
        starts.append(month)
        month = _month_start(month, 1)
    step = next((s for s in (1, 2, 3, 6) if len(starts) / s <= most), 12)
    lines = tuple(d for d in starts if (d.month - 1) % step == 0)
    labels: list[tuple[date, str]] = []
    if step == 1:
        month = _month_start(first)
        while month <= last:
            lo = max(month, first)
            hi = min(_month_start(month, 1) - timedelta(days=1), last)
            if (hi - lo).days + 1 >= 8:
                middle = lo + (hi - lo) / 2
                labels.append((middle, MONTHS[month.month - 1]))
            month = _month_start(month, 1)
    else:
        labels = [(d, MONTHS[d.month - 1]) for d in lines]
    with_year = []
    for i, (at, text) in enumerate(labels):
        label_month = _month_start(at) if step == 1 else at
        if i == 0 or label_month.month == 1:
            text = f"{text} {label_month.year}"
        with_year.append((at, text))
    return TimeAxis(lines, tuple(with_year))


# --- the legend --------------------------------------------------------------


@dataclass(frozen=True)
class LegendEntry:
    """What one milestone rule means, in words, with its levels and their thresholds."""

    rule_id: str
    kind: str
    label: str
    meaning: str
    levels: tuple[str, ...]
    enabled: bool = True


def kind_label(kind: str) -> str:
    """``skill_level_reached`` -> ``Skill level reached``."""
    return kind.replace("_", " ").capitalize()


def milestone_legend(rules: Rules) -> list[LegendEntry]:
    """One entry per rule of ``rules``, in the order the rules file lists them; each
    rule kind says in words what it means (``RuleKind.explain``)."""
    entries = []
    known = rule_kinds()
    for rule_id, rule in rules.rules.items():
        meaning, levels = known[rule.kind].explain(rule, rules)
        label = kind_label(rule.kind)
        if rule_id != rule.kind:
            label += f" ({rule_id})"
        entries.append(LegendEntry(rule_id, rule.kind, label, meaning, levels, rule.enabled))
    return entries


def legend_html(
    rules: Rules, counts: Mapping[str, int] | None = None, colors: Mapping[str, str] = PALETTE
) -> str:
    """The legend as a table: colour, milestone, meaning, levels and (given ``counts``
    per kind) how many were achieved; a note on the proficiency scale below it."""
    counts = counts or {}
    show_counts = bool(counts)
    entries = milestone_legend(rules)
    rows = []
    seen_kinds: set[str] = set()
    for e in entries:
        swatch = f'<span class="swatch" style="background:{colors.get(e.kind, "#999")}"></span>'
        levels = "<br>".join(_esc(lvl) for lvl in e.levels)
        if not e.enabled:
            levels = f"<em>switched off</em><br>{levels}"
        count = ""
        if show_counts:
            n = counts.get(e.kind, 0) if e.kind not in seen_kinds else 0
            count = f'<td class="n">{n:,}</td>'
        seen_kinds.add(e.kind)
        rows.append(
            f"<tr><td>{swatch}</td><td><b>{_esc(e.label)}</b></td><td>{_esc(e.meaning)}</td>"
            f"<td>{levels}</td>{count}</tr>"
        )
    head = "<th></th><th>milestone</th><th>what it means</th><th>levels</th>"
    if show_counts:
        head += '<th class="n">achieved</th>'
    note = (
        "Proficiency is a score from 0 to 100 built from assessment results, certifications "
        "and other scored activities; it starts at 0, rises with good results and fades "
        f"without practice (a result counts half as much after {rules.half_life_days:g} days). "
        "A milestone is dated by when the learning happened and is never taken back."
    )
    return (
        f'<table class="legend"><tr>{head}</tr>{"".join(rows)}</table>'
        f'<p class="note">{_esc(note)}</p>'
    )


# --- names -----------------------------------------------------------------


def learner_label(learner: str, names: Mapping[str, str] | None) -> str:
    """The learner's display name when ``names`` has one, else the learner key."""
    if names:
        return names.get(learner, learner)
    return learner


def _learner_html(learner: str, names: Mapping[str, str] | None) -> str:
    if names and learner in names:
        return f'{_esc(names[learner])}<span class="key">{_esc(learner)}</span>'
    return f"<code>{_esc(learner)}</code>"


def _persona(persona: str) -> str:
    return persona.replace("_", " ")


# --- charts ----------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def milestones_over_time(rows: Sequence[MilestoneRow], width: int = 900, height: int = 330) -> str:
    """Stacked weekly bars of milestones by kind, dated by when the learning happened."""
    if not rows:
        return "<p>No milestones.</p>"
    weeks: dict[date, Counter[str]] = defaultdict(Counter)
    for r in rows:
        weeks[_monday(_as_date(r.achieved_at))][r.kind] += 1
    first, last = min(weeks), max(weeks)
    span = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    kinds = [k for k in PALETTE if any(weeks[w][k] for w in weeks)]
    kinds += sorted({r.kind for r in rows} - set(kinds))
    ticks = nice_ticks(max(sum(weeks[w].values()) for w in span))
    top = ticks[-1]
    left, bottom, right, top_pad = 56, 46, 180, 12
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    end = last + timedelta(days=7)
    days = (end - first).days

    def x_of(day: date) -> float:
        return left + plot_w * (day - first).days / days

    base = top_pad + plot_h
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Milestones achieved per week, by kind">'
    ]
    for value in ticks:
        y = base - plot_h * value / top
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{value:,}</text>'
        )
    parts.append(
        f'<text x="14" y="{top_pad + plot_h / 2:.1f}" text-anchor="middle" class="axis-title" '
        f'transform="rotate(-90 14 {top_pad + plot_h / 2:.1f})">milestones per week</text>'
    )
    bar_w = plot_w * 7 / days
    for week in span:
        x = x_of(week)
        y = base
        for kind in kinds:
            n = weeks[week][kind] if week in weeks else 0
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{PALETTE.get(kind, "#999")}"><title>week of '
                f"{_esc(format_date(week))} · {_esc(kind_label(kind))}: {n:,}</title></rect>"
            )
    axis = time_axis(first, end)
    for day in axis.lines:
        x = x_of(day)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 6}" class="axis"/>')
    for day, text in axis.labels:
        parts.append(
            f'<text x="{x_of(day):.1f}" y="{base + 20}" text-anchor="middle">{_esc(text)}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" class="axis"/>')
    for j, kind in enumerate(kinds):
        y = top_pad + 12 + j * 22
        parts.append(
            f'<rect x="{width - right + 18}" y="{y - 10}" width="12" height="12" '
            f'fill="{PALETTE.get(kind, "#999")}"/>'
            f'<text x="{width - right + 36}" y="{y}">{_esc(kind_label(kind))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def skill_bars(
    snapshot: dict[str, Any],
    width: int = 720,
    *,
    skill_names: Mapping[str, str] | None = None,
    marks: Sequence[tuple[str, float]] = (),
) -> str:
    """One bar per skill: proficiency out of 100, coloured by category; ``marks``
    (level name, proficiency) draw dashed lines, e.g. the skill levels of the rules."""
    skills = [s for s in snapshot.get("skills", []) if float(s["proficiency"]) > 0]
    skills = sorted(skills, key=lambda s: (-float(s["proficiency"]), str(s["skill"])))[:14]
    if not skills:
        return "<p>No assessed skills yet.</p>"
    names = skill_names or {}
    row, left, top_pad, right = 26, 190, 26, 60
    plot_w = width - left - right
    height = top_pad + row * len(skills) + 28
    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="narrow" role="img" '
        'aria-label="Skill proficiency, out of 100">'
    ]
    for value in range(0, 101, 20):
        x = left + plot_w * value / 100
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad - 4}" y2="{height - 24}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{value}</text>'
        )
    for name, level in marks:
        x = left + plot_w * level
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad - 4}" y2="{height - 24}" class="mark"/>'
            f'<text x="{x:.1f}" y="{top_pad - 10}" text-anchor="middle" class="mark-label">'
            f"{_esc(name)}</text>"
        )
    for i, s in enumerate(skills):
        y = top_pad + i * row
        proficiency = float(s["proficiency"])
        w = plot_w * proficiency
        color = CATEGORY_COLORS.get(str(s.get("category")), "#999")
        label = names.get(str(s["skill"]), str(s["skill"]))
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 8}" fill="{color}">'
            f"<title>{_esc(label)} ({_esc(s.get('category'))}): {points(proficiency)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{points(proficiency)}</text>'
        )
    parts.append("</svg>")
    categories = sorted({str(s.get("category")) for s in skills})
    key = "".join(
        f'<span class="cat"><span class="swatch" style="background:'
        f'{CATEGORY_COLORS.get(c, "#999")}"></span>{_esc(c)}</span>'
        for c in categories
    )
    return "".join(parts) + f'<p class="note">{key}</p>'


def timeline(rows: Sequence[MilestoneRow], width: int = 900) -> str:
    """A learner's milestones on a time axis, one per line, labelled with date and title."""
    if not rows:
        return "<p>No milestones.</p>"
    rows = sorted(rows, key=lambda r: r.achieved_at)
    first = _as_date(rows[0].achieved_at)
    last = _as_date(rows[-1].achieved_at)
    left, right, row, axis_y = 24, 24, 22, 28
    plot_w = width - left - right
    height = axis_y + 20 + row * len(rows)
    t0 = rows[0].achieved_at
    span = max((rows[-1].achieved_at - t0).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        return left + plot_w * (moment - t0).total_seconds() / span

    def x_of_day(day: date) -> float:
        moment = datetime(day.year, day.month, day.day, tzinfo=t0.tzinfo)
        return x_of(moment)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Milestone timeline">']
    axis = time_axis(first, last)
    for day in axis.lines:
        x = x_of_day(day)
        if left <= x <= width - right:
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{height - 6}" class="grid"/>'
            )
    for day, text in axis.labels:
        x = x_of_day(day)
        if left <= x <= width - right:
            parts.append(
                f'<text x="{x:.1f}" y="{axis_y - 10}" text-anchor="middle" class="axis-title">'
                f"{_esc(text)}</text>"
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" class="axis"/>'
    )
    for i, r in enumerate(rows):
        x = x_of(r.achieved_at)
        y = axis_y + 18 + i * row
        color = PALETTE.get(r.kind, "#999")
        label = f"{format_day(r.achieved_at)} · {r.title}"
        on_left = x > left + plot_w * 0.55
        anchor, dx = ("end", -9) if on_left else ("start", 9)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y - 4}" y2="{axis_y + 4}" '
            f'stroke="{color}"/>'
            f'<circle cx="{x:.1f}" cy="{y - 4}" r="5" fill="{color}">'
            f"<title>{_esc(kind_label(r.kind))}</title></circle>"
            f'<text x="{x + dx:.1f}" y="{y}" text-anchor="{anchor}" class="halo">'
            f"{_esc(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- the page --------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#222;line-height:1.4;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2.5rem} .sub{color:#666;margin-top:0}
section{margin:2rem 0} svg{width:100%;height:auto;font-size:12px} svg.narrow{max-width:760px}
svg text{fill:#333} .grid{stroke:#eee} .axis{stroke:#888}
svg text.halo{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.mark{stroke:#999;stroke-dasharray:3 3} .mark-label{fill:#777;font-size:11px} .axis-title{fill:#666}
table{border-collapse:collapse;margin-top:.5rem} td,th{padding:.35rem .7rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{font-weight:600;color:#444} td.d{white-space:nowrap} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:inline-block;margin:0 2.5rem .8rem 0} .kpi b{display:block;font-size:1.6rem}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
.cat{margin-right:1.2rem} .note{color:#666;font-size:.9rem;max-width:800px}
.key{display:block;color:#999;font:11px ui-monospace,SFMono-Regular,Menlo,monospace}
table.legend td:nth-child(3){max-width:360px} table.legend td:nth-child(4){max-width:230px}
"""


def render_report(
    *,
    title: str,
    generated_at: datetime,
    stats: dict[str, object],
    rows: Sequence[MilestoneRow],
    featured: Journey | None,
    journeys: Sequence[Journey],
    rules: Rules | None = None,
    names: Mapping[str, str] | None = None,
    skill_names: Mapping[str, str] | None = None,
    period: tuple[date, date] | None = None,
) -> str:
    """The whole page.

    ``generated_at`` is printed as the time of the report (the caller reads
    the clock); ``rules`` (the rules the pipeline ran with) gives the legend
    and the skill-level marks; ``names`` maps learner keys to display names;
    ``skill_names`` maps skill ids to the catalog's names; ``period`` is the
    span of the learning the figures cover.
    """
    by_kind = Counter(r.kind for r in rows)
    kpis = "".join(f'<div class="kpi"><b>{_esc(v)}</b>{_esc(k)}</div>' for k, v in stats.items())
    if rules is not None:
        legend = legend_html(rules, by_kind)
    else:
        legend = (
            '<table><tr><th>milestone</th><th class="n">achieved</th></tr>'
            + "".join(
                f'<tr><td>{_esc(kind_label(k))}</td><td class="n">{n:,}</td></tr>'
                for k, n in by_kind.most_common()
            )
            + "</table>"
        )
    marks: list[tuple[str, float]] = []
    if rules is not None:
        skill_rule: Any = next(
            (r for r in rules.rules.values() if isinstance(r, SkillLevelRule) and r.enabled), None
        )
        if skill_rule is not None:
            marks = [(lvl.name, lvl.proficiency) for lvl in skill_rule.levels]
    journey_rows = []
    for j in journeys:
        ready = next((m for m in reversed(j.milestones) if m.kind == "role_ready"), None)
        role = ready.title.removeprefix("Ready for ") if ready else ""
        journey_rows.append(
            f"<tr><td>{_learner_html(j.learner, names)}</td><td>{_esc(_persona(j.persona))}</td>"
            f'<td class="n">{len(j.milestones)}</td>'
            f'<td class="d">{_esc(format_date(j.milestones[0].achieved_at)) if j.milestones else ""}</td>'
            f"<td>{_esc(role)}</td>"
            f'<td class="d">{_esc(format_date(ready.achieved_at)) if ready else ""}</td></tr>'
        )
    featured_html = ""
    if featured is not None:
        as_of = featured.snapshot.get("as_of")
        as_of_text = f" on {format_date(as_of)}" if as_of else ""
        who = learner_label(featured.learner, names)
        heading = _esc(who) if who != featured.learner else f"<code>{_esc(who)}</code>"
        key_line = (
            f"learner key <code>{_esc(featured.learner)}</code> · "
            if who != featured.learner
            else ""
        )
        featured_html = f"""
<section><h2>One learner's journey: {heading}</h2>
<p class="sub">{key_line}{_esc(_persona(featured.persona))} · {len(featured.milestones)} milestones</p>
<h3>Skill profile{_esc(as_of_text)} (proficiency out of 100)</h3>
{skill_bars(featured.snapshot, skill_names=skill_names, marks=marks)}
<h3>Milestones</h3>{timeline(featured.milestones)}</section>"""
    what = f"Simulated learning, {_esc(format_period(*period))}. " if period else ""
    who_column = "learner" if names else "learner key"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{CSS}</style></head>
<body><h1>{_esc(title)}</h1>
<p class="sub">{what}Report generated {_esc(format_moment(generated_at))} from the pipeline's database.</p>
<section>{kpis}</section>
<section><h2>Milestones per week</h2>
<p class="note">Each bar is one week, Monday to Sunday, dated by when the learning happened.</p>
{milestones_over_time(rows)}
<h3>What the milestones mean</h3>{legend}</section>
{featured_html}
<section><h2>Journeys to a role</h2>
<p class="note">Learners who became ready for a role, those with the most milestones first.</p>
<table><tr><th>{who_column}</th><th>learner type</th><th class="n">milestones</th>
<th>first milestone</th><th>latest role ready for</th><th>on</th></tr>{"".join(journey_rows)}</table></section>
</body></html>"""
