"""The sprawl chart: series building and SVG rendering, without a database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from governance.ownership.charts import (
    NO_TEAM_LABEL,
    PALETTE,
    Series,
    Sprawl,
    legend,
    nice_ticks,
    sprawl_chart_svg,
    sprawl_from_samples,
)

SVG = "{http://www.w3.org/2000/svg}"
WEEK0 = date(2025, 1, 6)


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own markup, parsed to check it


def _weeks(n: int) -> list[date]:
    return [WEEK0 + timedelta(weeks=i) for i in range(n)]


def test_samples_become_one_series_per_team_with_zero_for_missing_weeks():
    w = _weeks(3)
    sprawl = sprawl_from_samples([("web", w[0], 2), ("web", w[2], 5), ("db", w[1], 3)])
    assert sprawl.weeks == tuple(w)
    assert sprawl.series == (Series("web", (2, 0, 5)), Series("db", (0, 3, 0)))


def test_teams_beyond_top_are_summed_into_other_and_none_is_no_team():
    w = _weeks(2)
    samples = [(f"t{i}", week, i + k) for i in range(5) for k, week in enumerate(w)]
    samples.append((None, w[1], 100))
    sprawl = sprawl_from_samples(samples, top=2)
    labels = [s.label for s in sprawl.series]
    assert labels == [NO_TEAM_LABEL, "t4", "Other teams (4)"]
    # t0..t3 summed per week: week 0 = 0+1+2+3, week 1 = 1+2+3+4.
    assert sprawl.series[-1].values == (6, 10)


def test_ranking_is_by_latest_week_then_name():
    w = _weeks(2)
    sprawl = sprawl_from_samples([("b", w[0], 9), ("b", w[1], 1), ("a", w[1], 1), ("c", w[1], 4)])
    assert [s.label for s in sprawl.series] == ["c", "a", "b"]


def test_nice_ticks_cover_the_maximum_with_round_steps():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(1234)[-1] >= 1234
    assert all(b - a == 500 for a, b in zip(nice_ticks(2400), nice_ticks(2400)[1:], strict=False))


def test_no_data_renders_nothing():
    assert sprawl_chart_svg(Sprawl(weeks=(), series=())) == ""


def test_chart_is_well_formed_svg_with_one_line_per_series_in_range():
    w = _weeks(10)
    sprawl = Sprawl(
        weeks=tuple(w),
        series=(Series("web", tuple(range(10))), Series("db", tuple([50] * 10))),
    )
    markup = sprawl_chart_svg(sprawl, width=400, height=200)
    root = _parse(markup)
    lines = root.findall(f"{SVG}polyline")
    assert [line.get("stroke") for line in lines] == list(PALETTE[:2])
    for line in lines:
        points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
        assert len(points) == 10
        assert all(0 <= px <= 400 and 0 <= py <= 200 for px, py in points)
    # db is flat at 50, the top tick: its line is horizontal and above web's last point.
    db_points = lines[1].get("points").split()
    assert len({p.split(",")[1] for p in db_points}) == 1
    assert "web: 9 VMs in the latest week" in lines[0].find(f"{SVG}title").text
    assert "latest week: web 9, db 50" in root.get("aria-label")
    # At most eight week labels for ten weeks.
    week_labels = [t for t in root.findall(f"{SVG}text") if re.search(r"\d\d \w{3} \d\d", t.text)]
    assert 1 < len(week_labels) <= 8


def test_a_single_week_is_drawn_as_points():
    sprawl = Sprawl(weeks=(WEEK0,), series=(Series("web", (3,)),))
    root = _parse(sprawl_chart_svg(sprawl))
    assert len(root.findall(f"{SVG}circle")) == 1
    assert not root.findall(f"{SVG}polyline")


def test_labels_are_escaped():
    sprawl = Sprawl(weeks=tuple(_weeks(2)), series=(Series('<b>"x"</b>&', (1, 2)),))
    markup = str(sprawl_chart_svg(sprawl))
    assert "<b>" not in markup
    root = _parse(markup)  # still well-formed
    assert '<b>"x"</b>&' in root.find(f"{SVG}polyline/{SVG}title").text


def test_legend_uses_the_chart_colours():
    sprawl = Sprawl(weeks=tuple(_weeks(2)), series=(Series("a", (1, 2)), Series("b", (3, 4))))
    assert legend(sprawl) == [("a", PALETTE[0], 2), ("b", PALETTE[1], 4)]
