"""Server-side SVG charts (pure: numbers in, markup out; no JavaScript, no library).

Every number is formatted by us and every text goes through :func:`html.escape`, so the
markup is safe to put in a page as it is. Elements carry ``class`` and ``data-*``
attributes (``data-count``, ``data-week``) that the stylesheet and the tests read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

from monitor.analysis.momentum import DEFAULT_SETTINGS, Momentum, WeekBar

WIDTH = 720
HEIGHT = 214
AXIS_Y = 100  # confirm bars rise above it, kill bars hang below it
BAR_SPACE = 80  # the tallest bar's height
LEFT = 36
RIGHT = 12


def _n(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def bar_height(count: int, largest: int) -> float:
    """A bar's height in pixels: proportional to its count, the largest count BAR_SPACE."""
    return round(BAR_SPACE * count / max(largest, 1), 2)


def thesis_chart(
    weeks: Sequence[WeekBar],
    trend: Momentum,
    *,
    label: str,
    dead_band: float = DEFAULT_SETTINGS.dead_band,
) -> Markup:
    """Weekly confirm bars above the axis and kill bars below it, with the momentum line
    (its own scale, symmetric around the axis) and the dead band as dashed lines."""
    largest = max([w.confirm for w in weeks] + [w.kill for w in weeks] + [1])
    slot = (WIDTH - LEFT - RIGHT) / max(len(weeks), 1)
    bar_w = slot * 0.36
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{AXIS_Y}" x2="{WIDTH - RIGHT}" y2="{AXIS_Y}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{AXIS_Y - BAR_SPACE + 4}" '
        f'text-anchor="end">{largest}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{AXIS_Y + BAR_SPACE + 4}" '
        f'text-anchor="end">{largest}</text>',
    ]
    for n, week in enumerate(weeks):
        x = LEFT + n * slot + (slot - 2 * bar_w) / 2
        for kind, count, offset in (("confirm", week.confirm, 0.0), ("kill", week.kill, bar_w)):
            h = bar_height(count, largest)
            y = AXIS_Y - h if kind == "confirm" else AXIS_Y
            parts.append(
                f'<rect class="bar bar-{kind}" data-week="{week.start.isoformat()}" '
                f'data-count="{count}" x="{_n(x + offset)}" y="{_n(y)}" '
                f'width="{_n(bar_w)}" height="{_n(h)}">'
                f"<title>{kind} {count} in the week of {week.start.isoformat()}</title></rect>"
            )
        if n % 2 == 0 or len(weeks) <= 6:
            parts.append(
                f'<text class="tick" x="{_n(LEFT + n * slot + slot / 2)}" y="{HEIGHT - 4}" '
                f'text-anchor="middle">{week.start.strftime("%d %b")}</text>'
            )
    parts.extend(_momentum_line(weeks, trend, dead_band))
    parts.append("</svg>")
    return Markup("".join(parts))


def _momentum_line(weeks: Sequence[WeekBar], trend: Momentum, band: float) -> list[str]:
    if not weeks or not trend.daily:
        return []
    first: date = weeks[0].start
    days = (weeks[-1].start - first).days + 7
    span = WIDTH - LEFT - RIGHT
    scale = max([abs(v) for _, v in trend.daily] + [band * 2, 1e-9])
    points = []
    for day, value in trend.daily:
        offset = (day - first).days + 0.5
        if offset < 0 or offset > days:
            continue
        x = LEFT + span * offset / days
        points.append(f"{_n(x)},{_n(AXIS_Y - BAR_SPACE * value / scale)}")
    out = []
    for y in (AXIS_Y - BAR_SPACE * band / scale, AXIS_Y + BAR_SPACE * band / scale):
        out.append(
            f'<line class="band" x1="{LEFT}" y1="{_n(y)}" x2="{WIDTH - RIGHT}" y2="{_n(y)}"/>'
        )
    out.append(
        f'<polyline class="momentum" data-value="{_n(trend.value)}" points="{" ".join(points)}">'
        f"<title>momentum {trend.value:+.2f}</title></polyline>"
    )
    return out


def day_bars(days: Sequence[tuple[date, int]], *, label: str) -> Markup:
    """A small bar chart of counts per day (a source's items per day)."""
    width, height, top = 14 * 10, 36, 30
    largest = max([c for _, c in days] + [1])
    slot = width / max(len(days), 1)
    parts = [
        f'<svg class="spark" role="img" viewBox="0 0 {_n(width)} {height}" width="{_n(width)}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">'
    ]
    for n, (day, count) in enumerate(days):
        h = round(top * count / largest, 2)
        parts.append(
            f'<rect class="day" data-day="{day.isoformat()}" data-count="{count}" '
            f'x="{_n(n * slot + 1)}" y="{_n(height - 2 - h)}" width="{_n(slot - 2)}" '
            f'height="{_n(h)}"><title>{day.isoformat()}: {count}</title></rect>'
        )
    parts.append(
        f'<line class="axis" x1="0" y1="{height - 2}" x2="{_n(width)}" y2="{height - 2}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
