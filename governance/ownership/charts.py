"""Server-rendered SVG charts: pure functions from plain numbers to markup.

No JavaScript chart library and no CDN: the dashboard ships a few kilobytes of inline
SVG that renders without scripts, prints, and scales with the page. Every text that
reaches the markup is escaped here, so the result is safe to mark safe. The chart is
decorative for screen readers (``role="img"`` with a summary); the same numbers are
offered as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-safe palette (Okabe-Ito), one colour per series, cycling past eight.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
)
OTHER_LABEL = "Other teams"
NO_TEAM_LABEL = "No team"


@dataclass(frozen=True)
class Series:
    """One line of a chart: ``values[i]`` belongs to the chart's ``weeks[i]``."""

    label: str
    values: tuple[int, ...]

    @property
    def latest(self) -> int:
        return self.values[-1] if self.values else 0


@dataclass(frozen=True)
class Sprawl:
    """VM count per team per week, oldest week first; every series has one value a week."""

    weeks: tuple[date, ...]
    series: tuple[Series, ...]

    def rows(self) -> list[tuple[date, list[int]]]:
        """The same numbers by week, for the table beside the chart and the exports."""
        return [(week, [s.values[i] for s in self.series]) for i, week in enumerate(self.weeks)]


def sprawl_from_samples(samples: Sequence[tuple[str | None, date, int]], *, top: int = 7) -> Sprawl:
    """Weekly samples ``(team label or None, week, count)`` as at most ``top + 1`` series.

    The ``top`` teams by their latest count keep their own line (ties by name); the rest
    are summed into "Other teams" so the chart stays readable with hundreds of teams.
    A team with no sample in a week counts 0 that week (it had no VMs then).
    """
    weeks = tuple(sorted({week for _, week, _ in samples}))
    index = {week: i for i, week in enumerate(weeks)}
    by_team: dict[str, list[int]] = {}
    for team, week, count in samples:
        values = by_team.setdefault(team or NO_TEAM_LABEL, [0] * len(weeks))
        values[index[week]] += count
    ranked = sorted(by_team.items(), key=lambda item: (-item[1][-1] if weeks else 0, item[0]))
    kept = [Series(label, tuple(values)) for label, values in ranked[:top]]
    rest = ranked[top:]
    if rest:
        summed = tuple(sum(values[i] for _, values in rest) for i in range(len(weeks)))
        kept.append(Series(f"{OTHER_LABEL} ({len(rest)})", summed))
    return Sprawl(weeks=weeks, series=tuple(kept))


def nice_ticks(maximum: float, *, count: int = 5) -> list[int]:
    """Round axis ticks from 0 to at least ``maximum``: steps of 1, 2 or 5 times 10^n."""
    if maximum <= 0:
        return [0, 1]
    raw_step = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    step = max(1, int(step))
    top = step * math.ceil(maximum / step)
    return list(range(0, top + 1, step))


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sprawl_chart_svg(
    sprawl: Sprawl,
    *,
    width: int = 720,
    height: int = 260,
    title: str = "VMs per team per week",
) -> SafeString:
    """A line chart of ``sprawl`` as one ``<svg>`` element (empty string when no data).

    The x axis is the week, labelled at most eight times; the y axis starts at 0 with
    round ticks. Each series is a polyline whose ``<title>`` names the team and its
    latest count, so hovering a line identifies it without scripts.
    """
    if not sprawl.weeks or not sprawl.series:
        return mark_safe("")
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max(max(s.values) for s in sprawl.series))
    y_max = ticks[-1]
    weeks = len(sprawl.weeks)

    def x(i: int) -> float:
        return left + (plot_w * i / (weeks - 1) if weeks > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    latest = ", ".join(f"{s.label} {s.latest}" for s in sprawl.series)
    summary = (
        f"{title}, {sprawl.weeks[0].isoformat()} to {sprawl.weeks[-1].isoformat()}; "
        f"latest week: {latest}."
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(summary)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        ty = _fmt(y(tick))
        parts.append(
            f'<line class="chart__grid" x1="{left}" x2="{width - right}" y1="{ty}" y2="{ty}"/>'
            f'<text class="chart__label" x="{left - 6}" y="{ty}" text-anchor="end" '
            f'dominant-baseline="middle">{tick}</text>'
        )
    label_every = max(1, math.ceil(weeks / 8))
    for i, week in enumerate(sprawl.weeks):
        if i % label_every == 0:
            parts.append(
                f'<text class="chart__label" x="{_fmt(x(i))}" y="{height - 8}" '
                f'text-anchor="middle">{week.strftime("%d %b %y")}</text>'
            )
    for number, series in enumerate(sprawl.series):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{_fmt(x(i))},{_fmt(y(v))}" for i, v in enumerate(series.values))
        tip = escape(f"{series.label}: {series.latest} VMs in the latest week")
        if weeks == 1:
            cx, cy = points.split(",")
            parts.append(
                f'<circle class="chart__point" cx="{cx}" cy="{cy}" r="4" fill="{colour}">'
                f"<title>{tip}</title></circle>"
            )
        else:
            parts.append(
                f'<polyline class="chart__line" fill="none" stroke="{colour}" '
                f'stroke-width="2" points="{points}"><title>{tip}</title></polyline>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def legend(sprawl: Sprawl) -> list[tuple[str, str, int]]:
    """``(label, colour, latest count)`` per series, in the chart's colours."""
    return [
        (series.label, PALETTE[number % len(PALETTE)], series.latest)
        for number, series in enumerate(sprawl.series)
    ]
