"""A run's figures as SVG line charts, drawn as text without matplotlib.

Assumption: a run folder's figures are line charts of per-step series
(:mod:`abm.viz.series` says which lines) read in a browser or an image viewer, which
render SVG's text and dashes themselves. Writing them as SVG text costs milliseconds;
importing matplotlib and rasterising the same four panels as PNG cost about 0.6 s of
CPU, a third of an ``abm run`` (docs/performance.md). The viewer's live panels, sweep
figures, comparisons and calibration profiles keep matplotlib (:mod:`abm.viz.plots`).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from abm.messages import printable
from abm.viz.series import PLOTS, Line, floor_zero, series_lines

WIDTH, HEIGHT = 660, 330  # the plot's box in px; the legend adds rows below it
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 30, 46  # margins: tick labels, title, axis label
ROW = 17  # legend row height, px
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering ``[lo, hi]``: steps of 1, 2, 2.5 or 5 times a power of 10."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(target - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [first + i * step for i in range(count)]


def tick_label(value: float, step: float) -> str:
    """``value`` with as many decimals as the tick step needs (no ``-0``)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and not math.isclose(round(step, decimals), step, rel_tol=1e-9):
        decimals += 1  # steps of 2.5 x 10^k
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


def limits(lines: list[Line], name: str) -> tuple[float, float, float]:
    """``(x_max, y_low, y_high)``: steps from 0; y over the data with a 5% margin.

    A share's axis starts at 0 and reaches at least 0.05, as the matplotlib panel does.
    """
    x = np.concatenate([ln.x for ln in lines]) if lines else np.zeros(0)
    y = np.concatenate([ln.y for ln in lines]) if lines else np.zeros(0)
    y = y[np.isfinite(y)]
    x_max = max(float(np.max(x)) if len(x) else 0.0, 1.0)
    lo, hi = (float(y.min()), float(y.max())) if len(y) else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 0.05)
    lo, hi = lo - pad, hi + pad
    if floor_zero(name):
        lo, hi = 0.0, max(hi, 0.05)
    return x_max, lo, hi


def _path(line: Line, sx, sy) -> str:
    """The line's SVG path: a new subpath after each missing value, as matplotlib draws."""
    parts, pen_down = [], False
    for x, y in zip(line.x, line.y, strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{sx(x):.1f} {sy(y):.1f}")
        pen_down = True
    return " ".join(parts)


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "middle", **extra) -> str:
    attrs = "".join(f' {k}="{v}"' for k, v in extra.items())
    label = html.escape(printable(text))
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{attrs}>'
            f"{label}</text>")  # fmt: skip


def _axes(name: str, x_max: float, lo: float, hi: float, sx, sy) -> list[str]:
    """Frame, grid, ticks with their labels, title and axis labels."""
    _, title, ylabel = PLOTS[name]
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    box = f'x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}"'
    out = [f'<rect {box} fill="none" stroke="#333"/>']
    xt, yt = nice_ticks(0.0, x_max, 7), nice_ticks(lo, hi)
    x_step, y_step = (t[1] - t[0] if len(t) > 1 else 1.0 for t in (xt, yt))
    grid = 'stroke="#000" stroke-opacity="0.12"'
    for v in xt:
        out.append(f'<path d="M{sx(v):.1f} {y1}V{y0}" {grid}/>')
        out.append(_text(sx(v), y0 + 15, tick_label(v, x_step)))
    for v in yt:
        out.append(f'<path d="M{x0} {sy(v):.1f}H{x1}" {grid}/>')
        out.append(_text(x0 - 5, sy(v) + 4, tick_label(v, y_step), anchor="end"))
    out.append(_text((x0 + x1) / 2, 19, title, size=13))
    out.append(_text((x0 + x1) / 2, y0 + 34, "step", size=12))
    mid = (y0 + y1) / 2
    out.append(_text(16, mid, ylabel, size=12, transform=f"rotate(-90 16 {mid:.1f})"))
    return out


def _legend(lines: list[Line]) -> tuple[list[str], int]:
    """Legend rows under the plot (never over a line); returns the elements and their height."""
    out, x, y = [], LEFT, HEIGHT + 4
    for line in lines:
        width = 34 + 6.5 * len(line.label)
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, y = LEFT, y + ROW
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        out.append(f'<path d="M{x} {y - 4}h24" stroke="{line.colour}" stroke-width="2"{dash}/>')
        out.append(_text(x + 30, y, line.label, size=11, anchor="start"))
        x += width + 12
    return out, (y - HEIGHT + ROW - 4) if lines else 0


def series_svg(table: pd.DataFrame, name: str) -> str:
    """Panel ``name`` of :data:`abm.viz.series.PLOTS` as a standalone SVG document."""
    lines = series_lines(table, name)
    x_max, lo, hi = limits(lines, name)
    span = hi - lo if hi > lo else 1.0

    def sx(v: float) -> float:
        return LEFT + (WIDTH - RIGHT - LEFT) * v / x_max

    def sy(v: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * (v - lo) / span

    body = _axes(name, x_max, lo, hi, sx, sy)
    box = f'x="{LEFT}" y="{TOP}" width="{WIDTH - RIGHT - LEFT}" height="{HEIGHT - BOTTOM - TOP}"'
    body.append(f'<clipPath id="plot"><rect {box}/></clipPath>')
    body.append('<g clip-path="url(#plot)" fill="none">')
    for line in lines:
        style = ' stroke-width="1.4" stroke-dasharray="5 3"' if line.dashed else ' stroke-width="2"'
        body.append(f'<path d="{_path(line, sx, sy)}" stroke="{line.colour}"{style}/>')
    body.append("</g>")
    legend, extra = _legend(lines)
    height = HEIGHT + extra
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" {FONT}>'
            f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>')  # fmt: skip
    return "\n".join([head, *body, *legend, "</svg>"]) + "\n"
