"""Charts for the operator page as inline SVG, drawn on the server: no chart library, no script,
nothing fetched from anywhere, and they render with JavaScript disabled.

Every mark carries a ``class`` (``candle``, ``marker``, ``fan``, ``point``, ``bar``, ``event``)
so tests count them from the DOM, and a ``<title>`` child that browsers show on hover (e.g. the
HOLD reason of a signal marker). Numbers are formatted for people by ``fmt``, ``pct``, ``ago``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from html import escape

from ai_engine.contract import parse_time

WIDTH, HEIGHT, PAD = 640, 200, 28
COLOURS = {"BUY": "#1a7f37", "SELL": "#c62828", "HOLD": "#8a8a8a"}


def fmt(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (— for None or non-finite)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage with ``digits`` decimals."""
    return "—" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f} %"


def ago(iso_time: str | None, now: float | None = None) -> str:
    """``<time>`` saying "3 min ago", the exact UTC time on hover."""
    if not iso_time:
        return "—"
    try:
        at = parse_time(iso_time)
    except ValueError:
        return escape(iso_time)
    seconds = (now if now is not None else time.time()) - at.timestamp()
    exact = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{escape(iso_time)}" title="{exact}">{_relative(seconds)}</time>'


def _relative(seconds: float) -> str:
    future, s = seconds < 0, abs(seconds)
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if s >= size:
            text = f"{s / size:.0f} {unit}"
            break
    else:
        text = f"{s:.0f} s"
    return f"in {text}" if future else f"{text} ago"


@dataclass(frozen=True)
class Scale:
    """Maps data (x index or value, y value) to SVG pixels inside the padding."""

    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return PAD + (value - self.x0) / span * (WIDTH - 2 * PAD)

    def y(self, value: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return HEIGHT - PAD - (value - self.y0) / span * (HEIGHT - 2 * PAD)


def _svg(test_id: str, label: str, body: str) -> str:
    return (
        f'<svg class="chart" data-testid="{test_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _axis(scale: Scale, low: str, high: str) -> str:
    return (
        f'<text class="axis" x="2" y="{scale.y(scale.y1) + 4:.1f}">{escape(high)}</text>'
        f'<text class="axis" x="2" y="{scale.y(scale.y0) + 4:.1f}">{escape(low)}</text>'
    )


@dataclass(frozen=True)
class Marker:
    """A signal on the candle chart: the bar it was made at, its action, why."""

    index: int
    action: str
    reason: str | None


def candles(
    ohlc: Sequence[tuple[float, float, float, float]],
    markers: Sequence[Marker],
    fan: tuple[Sequence[float], Sequence[float], Sequence[float]] | None,
    label: str,
) -> str:
    """Candles (open, high, low, close), signal markers above them, and the 12-step forecast
    as a fan (lower, mid, upper cumulative log returns) from the last close."""
    if not ohlc:
        return '<p class="empty">no candles seen for this symbol yet</p>'
    last = ohlc[-1][3]
    steps = len(fan[1]) if fan else 0
    prices = [p for bar in ohlc for p in bar]
    if fan:
        prices += [last * math.exp(r) for band in fan for r in band]
    scale = Scale(-0.5, len(ohlc) - 0.5 + steps, min(prices), max(prices))
    width = max(1.0, 0.6 * (WIDTH - 2 * PAD) / (len(ohlc) + steps))
    parts = []
    for i, (o, h, low, c) in enumerate(ohlc):
        colour = "#1a7f37" if c >= o else "#c62828"
        x = scale.x(i)
        top, bottom = scale.y(max(o, c)), scale.y(min(o, c))
        parts.append(
            f'<g class="candle"><title>o {fmt(o, 6)} h {fmt(h, 6)} l {fmt(low, 6)} '
            f'c {fmt(c, 6)}</title><line x1="{x:.1f}" x2="{x:.1f}" y1="{scale.y(h):.1f}" '
            f'y2="{scale.y(low):.1f}" stroke="{colour}"/><rect x="{x - width / 2:.1f}" '
            f'y="{top:.1f}" width="{width:.1f}" height="{max(bottom - top, 0.8):.1f}" '
            f'fill="{colour}"/></g>'
        )
    for m in markers:
        if 0 <= m.index < len(ohlc):
            why = m.action + (f" ({m.reason})" if m.reason else "")
            parts.append(
                f'<circle class="marker marker-{escape(m.action.lower())}" '
                f'cx="{scale.x(m.index):.1f}" cy="{PAD / 2:.1f}" r="4" '
                f'fill="{COLOURS.get(m.action, "#555")}"><title>{escape(why)}</title></circle>'
            )
    if fan:
        parts.append(_fan(scale, len(ohlc) - 1, last, fan))
    return _svg(
        "chart-candles", label, "".join(parts) + _axis(scale, fmt(scale.y0, 6), fmt(scale.y1, 6))
    )


def _fan(
    scale: Scale,
    start: int,
    last: float,
    fan: tuple[Sequence[float], Sequence[float], Sequence[float]],
) -> str:
    lower, mid, upper = fan
    xs = [scale.x(start + k) for k in range(len(mid) + 1)]
    up = [scale.y(last)] + [scale.y(last * math.exp(r)) for r in upper]
    down = [scale.y(last)] + [scale.y(last * math.exp(r)) for r in lower]
    centre = [scale.y(last)] + [scale.y(last * math.exp(r)) for r in mid]
    outline = " ".join(
        f"{x:.1f},{y:.1f}" for x, y in zip(xs + xs[::-1], up + down[::-1], strict=True)
    )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, centre, strict=True))
    return (
        f'<polygon class="fan" points="{outline}" fill="#1f6feb" fill-opacity="0.18">'
        f"<title>80 % conformal interval, {len(mid)} steps</title></polygon>"
        f'<polyline class="fan-mid" points="{line}" fill="none" stroke="#1f6feb"/>'
    )


def lines(
    series: Sequence[tuple[str, Sequence[float], str]],
    label: str,
    level: tuple[str, float] | None = None,
    as_pct: bool = False,
) -> str:
    """Line series (name, values, colour) over a shared index, and an optional horizontal
    ``level`` (name, value), e.g. the ESS drawdown limit."""
    values = [v for _, ys, _ in series for v in ys] + ([level[1]] if level else [])
    if not values:
        return '<p class="empty">nothing recorded yet</p>'
    n = max(len(ys) for _, ys, _ in series)
    scale = Scale(0, max(n - 1, 1), min(values), max(values))
    show = pct if as_pct else fmt
    parts = []
    for name, ys, colour in series:
        points = " ".join(f"{scale.x(i):.1f},{scale.y(v):.1f}" for i, v in enumerate(ys))
        parts.append(
            f'<polyline class="series" data-name="{escape(name)}" points="{points}" fill="none" '
            f'stroke="{colour}"><title>{escape(name)}</title></polyline>'
        )
        parts += [
            f'<circle class="point" data-name="{escape(name)}" cx="{scale.x(i):.1f}" '
            f'cy="{scale.y(v):.1f}" r="2" fill="{colour}"><title>{escape(name)} '
            f"{show(v)}</title></circle>"
            for i, v in enumerate(ys)
        ]
    if level:
        y = scale.y(level[1])
        parts.append(
            f'<line class="level" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#c62828" stroke-dasharray="4 3"><title>{escape(level[0])} '
            f"{show(level[1])}</title></line>"
        )
    return _svg(
        f"chart-{label.split()[0].lower()}",
        label,
        "".join(parts) + _axis(scale, show(scale.y0), show(scale.y1)),
    )


def bars(items: Sequence[tuple[str, float, float, float]], label: str) -> str:
    """Horizontal bars (name, booked, reserved, limit): booked solid, reserved hatched on top,
    the limit as a tick; a bar past its limit is red."""
    if not items:
        return '<p class="empty">nothing to show</p>'
    row = 26
    height = PAD + row * len(items)
    top = max(max(b + r, lim) for _, b, r, lim in items) or 1.0
    span = WIDTH - 160 - PAD
    parts = []
    for k, (name, booked, reserved, limit) in enumerate(items):
        y = 8 + k * row
        colour = "#c62828" if booked > limit + 1e-12 else "#1a7f37"
        w_b, w_r, x_l = booked / top * span, reserved / top * span, 150 + limit / top * span
        parts.append(
            f'<g class="bar" data-name="{escape(name)}" data-value="{booked:.6g}" '
            f'data-reserved="{reserved:.6g}" data-limit="{limit:.6g}"><title>{escape(name)}: '
            f"{fmt(booked)} booked, {fmt(reserved)} reserved, limit {fmt(limit)}</title>"
            f'<text x="4" y="{y + 14}">{escape(name)}</text>'
            f'<rect x="150" y="{y}" width="{w_b:.1f}" height="16" fill="{colour}"/>'
            f'<rect class="reserved" x="{150 + w_b:.1f}" y="{y}" width="{w_r:.1f}" height="16" '
            f'fill="{colour}" fill-opacity="0.35"/>'
            f'<line x1="{x_l:.1f}" x2="{x_l:.1f}" y1="{y - 3}" y2="{y + 19}" stroke="#222" '
            'stroke-width="2"/></g>'
        )
    return (
        f'<svg class="chart" data-testid="chart-exposure" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def timeline(events: Sequence[tuple[float, str, str, str]], label: str, test_id: str) -> str:
    """Events (epoch seconds, kind, colour, text) along one time axis, oldest left."""
    if not events:
        return '<p class="empty">nothing yet</p>'
    times = [e[0] for e in events]
    scale = Scale(min(times), max(times) if max(times) > min(times) else min(times) + 1, 0, 1)
    parts = [f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="60" y2="60" stroke="#999"/>']
    for at, kind, colour, text in events:
        parts.append(
            f'<circle class="event event-{escape(kind.lower())}" cx="{scale.x(at):.1f}" cy="60" '
            f'r="6" fill="{colour}"><title>{escape(text)}</title></circle>'
        )
    return (
        f'<svg class="chart" data-testid="{test_id}" viewBox="0 0 {WIDTH} 100" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{"".join(parts)}</svg>'
    )
