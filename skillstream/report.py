"""The demo's HTML report: milestones over time, and one learner's journey.

Self-contained (inline SVG and CSS, no scripts, no network), so it opens in any
browser and survives being mailed around. Input is what the SQL sink holds.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

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


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def milestones_over_time(rows: Sequence[MilestoneRow], width: int = 900, height: int = 320) -> str:
    """Stacked weekly bars of milestones by kind (event time)."""
    if not rows:
        return "<p>No milestones.</p>"
    weeks: dict[date, Counter[str]] = defaultdict(Counter)
    for r in rows:
        weeks[_monday(r.achieved_at.date())][r.kind] += 1
    first, last = min(weeks), max(weeks)
    span = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    kinds = [k for k in PALETTE if any(weeks[w][k] for w in weeks)]
    kinds += sorted({r.kind for r in rows} - set(kinds))
    top = max(sum(weeks[w].values()) for w in span) or 1
    left, bottom, right, top_pad = 50, 40, 170, 10
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    bar_w = plot_w / len(span)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Milestones per week by kind">'
    ]
    for i in range(5):
        y = top_pad + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(top * i / 4)}</text>'
        )
    for i, week in enumerate(span):
        x = left + i * bar_w
        y = top_pad + plot_h
        for kind in kinds:
            n = weeks[week][kind] if week in weeks else 0
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            color = PALETTE.get(kind, "#999")
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{_esc(week)} {_esc(kind)}: {n}</title></rect>'
            )
        if i % max(1, len(span) // 8) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{week:%d %b}</text>"
            )
    for j, kind in enumerate(kinds):
        y = top_pad + 14 + j * 20
        color = PALETTE.get(kind, "#999")
        parts.append(
            f'<rect x="{width - right + 16}" y="{y - 10}" width="12" height="12" fill="{color}"/>'
        )
        parts.append(
            f'<text x="{width - right + 34}" y="{y}">{_esc(kind.replace("_", " "))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def skill_bars(snapshot: dict[str, Any], width: int = 560) -> str:
    """One bar per skill: proficiency in [0, 1], coloured by category."""
    skills = [s for s in snapshot.get("skills", []) if float(s["proficiency"]) > 0]
    skills = sorted(skills, key=lambda s: -float(s["proficiency"]))[:14]
    if not skills:
        return "<p>No assessed skills yet.</p>"
    row, left = 24, 170
    height = row * len(skills) + 30
    colors = {
        "technical": "#4e79a7",
        "soft": "#76b7b2",
        "networking": "#e15759",
        "leadership": "#f28e2b",
    }
    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="narrow" role="img" '
        'aria-label="Skill proficiency">'
    ]
    for i, s in enumerate(skills):
        y = 10 + i * row
        w = (width - left - 60) * float(s["proficiency"])
        color = colors.get(str(s.get("category")), "#59a14f")
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{_esc(s["skill"])}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
        )
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 14}">{float(s["proficiency"]):.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline(rows: Sequence[MilestoneRow], width: int = 900) -> str:
    """A learner's milestones on an event-time axis, labelled."""
    if not rows:
        return "<p>No milestones.</p>"
    rows = sorted(rows, key=lambda r: r.achieved_at)
    t0, t1 = rows[0].achieved_at, rows[-1].achieved_at
    span = max((t1 - t0).total_seconds(), 1.0)
    left, right, row = 20, 260, 22
    height = 40 + row * len(rows)
    axis_y = 20
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Milestone timeline">']
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" class="axis"/>'
    )
    parts.append(f'<text x="{left}" y="{axis_y - 6}">{t0:%d %b %Y}</text>')
    parts.append(
        f'<text x="{width - right}" y="{axis_y - 6}" text-anchor="end">{t1:%d %b %Y}</text>'
    )
    for i, r in enumerate(rows):
        x = left + (width - left - right) * (r.achieved_at - t0).total_seconds() / span
        y = axis_y + 18 + i * row
        color = PALETTE.get(r.kind, "#999")
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{y - 4}" class="tick"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y - 4}" r="5" fill="{color}"/>')
        parts.append(
            f'<text x="{x + 9:.1f}" y="{y}">{r.achieved_at:%d %b} · {_esc(r.title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
section{margin:2rem 0} svg{width:100%;height:auto;font-size:11px} svg.narrow{max-width:600px}
svg text{fill:#333} .grid{stroke:#eee} .axis{stroke:#888} .tick{stroke:#ccc}
table{border-collapse:collapse} td,th{padding:.25rem .8rem;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:inline-block;margin-right:2.5rem} .kpi b{display:block;font-size:1.6rem}
"""


def render_report(
    *,
    title: str,
    stats: dict[str, object],
    rows: Sequence[MilestoneRow],
    featured: Journey | None,
    journeys: Sequence[Journey],
) -> str:
    by_kind = Counter(r.kind for r in rows)
    kpis = "".join(f'<div class="kpi"><b>{_esc(v)}</b>{_esc(k)}</div>' for k, v in stats.items())
    kind_rows = "".join(
        f'<tr><td>{_esc(k.replace("_", " "))}</td><td class="n">{n}</td></tr>'
        for k, n in by_kind.most_common()
    )
    journey_rows = "".join(
        f"<tr><td><code>{_esc(j.learner)}</code></td><td>{_esc(j.persona)}</td>"
        f'<td class="n">{len(j.milestones)}</td>'
        f"<td>{_esc(j.milestones[0].achieved_at.date()) if j.milestones else ''}</td>"
        f"<td>{_esc(next((m.title for m in reversed(j.milestones) if m.kind == 'role_ready'), ''))}</td></tr>"
        for j in journeys
    )
    featured_html = ""
    if featured is not None:
        featured_html = f"""
<section><h2>One learner's journey: <code>{_esc(featured.learner)}</code> ({_esc(featured.persona)})</h2>
<h3>Skill profile (as of {_esc(featured.snapshot.get("as_of", ""))})</h3>{skill_bars(featured.snapshot)}
<h3>Milestones</h3>{timeline(featured.milestones)}</section>"""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{CSS}</style></head>
<body><h1>{_esc(title)}</h1><p class="sub">Generated {datetime.now():%Y-%m-%d %H:%M} from the SQL sink.</p>
<section>{kpis}</section>
<section><h2>Milestones per week, by kind (event time)</h2>{milestones_over_time(rows)}
<table><tr><th>kind</th><th>milestones</th></tr>{kind_rows}</table></section>
{featured_html}
<section><h2>Journeys to a role</h2><table><tr><th>learner</th><th>persona</th><th>milestones</th>
<th>first milestone</th><th>highest role ready</th></tr>{journey_rows}</table></section>
</body></html>"""
