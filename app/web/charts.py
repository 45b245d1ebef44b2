"""Server-side SVG charts (pygal): the MME trend with the clinic thresholds, and PRO score trends.

Issue 4: charts come from a well-kept charting library, carry a title, a text alternative and a
data table for screen readers, and print. pygal draws the SVG; we only configure it. Its output
is served as an ``<img>`` with a ``data:image/svg+xml`` URI: the page CSP (``img-src 'self'
data:``) allows it, an SVG image never runs script, and WeasyPrint and Chromium both print it.
pygal adds a ``<script>`` with its tooltip config even with ``js=[]``; it is removed, since an
image would not run it anyway and the page must hold no script.
"""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pygal
from pygal.style import Style

from app.clinical.dashboard import ProSeries
from app.clinical.mme import format_mme
from app.clinical.summary import TrendPoint

# pygal appends a sys.meta_path finder for its map plugins (not used here) that has no find_spec;
# from then on every failed import anywhere emits an ImportWarning. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
#: Colours with at least 4.5:1 contrast on white (WCAG AA), readable in greyscale print.
_COLOURS = ("#1f4e79", "#9c4a00", "#8a1c1c", "#3d6b21", "#5b2a86")


@dataclass(frozen=True, slots=True)
class ChartImage:
    """One chart: the image, its title, a text alternative and the data as table rows."""

    title: str
    src: str  # data:image/svg+xml;base64,...
    alt: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _style() -> Style:
    return Style(
        background="white",
        plot_background="white",
        foreground="#222222",
        foreground_strong="#111111",
        foreground_subtle="#767676",
        font_family="DejaVu Sans, Arial, sans-serif",
        colors=_COLOURS,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=11,
        value_font_size=10,
        title_font_size=12,
    )


def _config(width: int, height: int) -> dict[str, object]:
    return {
        "width": width,
        "height": height,
        "style": _style(),
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": True,
        "show_dots": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": -1,
        "margin": 6,
        "x_value_formatter": lambda d: d.strftime("%b %Y"),
        "print_values": False,
    }


def _data_uri(svg: str) -> str:
    clean = _SCRIPT.sub("", svg)
    return "data:image/svg+xml;base64," + base64.b64encode(clean.encode()).decode()


def _month_labels(first: date, last: date, every: int) -> list[date]:
    labels = []
    year, month = first.year, first.month
    while date(year, month, 1) <= last:
        if date(year, month, 1) >= first and (month - 1) % every == 0:
            labels.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


def _ticks(top: float, most: int = 6) -> list[float]:
    """Round axis ticks from 0 to at least `top`, no more than `most` of them."""
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top / step <= most - 1:
            break
    count = int(top // step) + 1
    return [float(step * i) for i in range(count + 1)]


def mme_chart(
    points: Sequence[TrendPoint],
    thresholds: Sequence[float],
    *,
    width: int = 560,
    height: int = 190,
) -> ChartImage:
    """MME/day over time with a dashed line per clinic threshold.

    Args:
        points: the sampled series (`summary.mme_trend`), oldest first.
        thresholds: the policy's MME thresholds.
        width: SVG width in px.
        height: SVG height in px.
    """
    title = "Total MME/day, last 24 months"
    rows = tuple(
        (p.day.isoformat(), format_mme(p.mme), "yes" if p.complete else "no") for p in points
    )
    columns = ("Date", "MME/day", "Complete")
    if not points:
        return ChartImage(title, "", "No MME history.", columns, rows)
    chart = pygal.DateLine(**_config(width, height))
    chart.add("MME/day", [(p.day, p.mme) for p in points], stroke_style={"width": 2.5})
    first, last = points[0].day, points[-1].day
    for index, threshold in enumerate(thresholds):
        chart.add(
            f"Clinic threshold {threshold:g}",
            [(first, threshold), (last, threshold)],
            stroke_style={"width": 1.5, "dasharray": "6,4"},
            color=_COLOURS[1 + index % (len(_COLOURS) - 1)],
        )
    chart.x_labels = _month_labels(first, last, 6)
    top = max([p.mme for p in points] + list(thresholds)) * 1.05 or 1.0
    chart.range = (0, top)
    chart.y_labels = _ticks(top)
    peak = max(points, key=lambda p: p.mme)
    alt = (
        f"Line chart of total MME/day from {first.isoformat()} to {last.isoformat()}: "
        f"{format_mme(points[0].mme)} at the start, {format_mme(points[-1].mme)} now, highest "
        f"{format_mme(peak.mme)} on {peak.day.isoformat()}. Clinic thresholds: "
        f"{', '.join(f'{t:g}' for t in thresholds)} MME/day."
    )
    if not all(p.complete for p in points):
        alt += " Some days are incomplete (a dose could not be read)."
    return ChartImage(title, _data_uri(chart.render(is_unicode=True)), alt, columns, rows)


def pro_chart(series: Sequence[ProSeries], *, width: int = 560, height: int = 200) -> ChartImage:
    """PEG, PHQ-9 and GAD-7 scores over time, one line each."""
    title = "PEG, PHQ-9 and GAD-7 scores"
    columns = ("Date", "Instrument", "Score")
    rows = tuple(
        (day.isoformat(), s.label, f"{score:g}") for s in series for day, score in s.points
    )
    days = [day for s in series for day, _ in s.points]
    if not days:
        return ChartImage(title, "", "No PEG, PHQ-9 or GAD-7 scores.", columns, rows)
    config = _config(width, height)
    config.update(show_dots=True, dots_size=3)
    chart = pygal.DateLine(**config)
    for s in series:
        if s.points:
            chart.add(f"{s.label} (0-{s.maximum:g})", list(s.points))
    chart.x_labels = _month_labels(min(days), max(days), 3)
    chart.range = (0, 27)
    chart.y_labels = [0, 5, 10, 15, 20, 25]
    latest = [
        f"{s.label} {s.points[-1][1]:g} on {s.points[-1][0].isoformat()}"
        for s in series
        if s.points
    ]
    alt = (
        f"Line chart of scores from {min(days).isoformat()} to {max(days).isoformat()}. "
        f"Latest: {'; '.join(latest)}."
    )
    return ChartImage(title, _data_uri(chart.render(is_unicode=True)), alt, columns, rows)
