"""What a run's figures draw, apart from how: panels, their lines, colours and limits.

Assumption: a run's figure is a line chart of one per-step series, one line per entity,
with the worlds it is measured against dashed. Both renderers read this module, so they
draw the same lines: the run folder's SVG files (:mod:`abm.viz.svg`, no matplotlib) and
matplotlib figures (:mod:`abm.viz.plots`). Nothing here imports a plotting library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from abm.words import possessive

PLOTS: dict[str, tuple[str, str, str]] = {
    # name: (series, title, y label)
    "quality": ("quality", "Model quality per platform", "held-out quality"),
    # Ratings tasks only (abm.metrics declares it where a ranking probe exists).
    "hit_rate": ("hit_rate", "Hit rate at 10 per platform", "liked items in the top 10"),
    "market_share": ("share", "Market share", "share of users"),
    "participation": ("participation", "Participation per collective", "share of users acting"),
    "leverage": ("leverage", "Measured leverage", "share of gap removed"),
}

TWIN = {"quality": "twin_quality", "hit_rate": "twin_hit_rate"}  # the twin's dashed line

# matplotlib's default colour cycle ("tab10"), so both renderers colour alike.
COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One line of a panel: ``y`` over ``x`` (NaN leaves a gap), solid or dashed."""

    label: str
    x: np.ndarray
    y: np.ndarray
    colour: str
    dashed: bool


def entities(table: pd.DataFrame, series: str) -> list[str]:
    """Entity names that have a column for ``series``."""
    prefix = f"{series}["
    return [c[len(prefix) : -1] for c in table.columns if c.startswith(prefix)]


def available(table: pd.DataFrame) -> list[str]:
    """The plots that have data in this table."""
    return [n for n, (s, _, _) in PLOTS.items() if entities(table, s)]


def series_lines(table: pd.DataFrame, name: str) -> list[Line]:
    """The lines of panel ``name``, in drawing (and legend) order.

    One solid line per entity; in a run measured against its twin without
    interventions, each platform's series there dashed in the platform's colour; on the
    quality and hit-rate panels, each collective's target in its twin world (without the
    campaign) dashed, carried forward over steps it was not measured.
    """
    series = PLOTS[name][0]
    x = np.asarray(table.index if "step" not in table.columns else table["step"], dtype=float)
    lines: list[Line] = []
    colour: dict[str, str] = {}
    cycle = iter(COLOURS * 100)  # as matplotlib: only lines without a colour take the next

    def add(label: str, column: pd.Series, dashed: bool, of: str | None = None) -> None:
        c = colour.get(of) if of is not None else None
        c = c or next(cycle)
        lines.append(Line(label, x, np.asarray(column, dtype=float), c, dashed))

    for entity in entities(table, series):
        add(entity, table[f"{series}[{entity}]"], False)
        colour[entity] = lines[-1].colour
    for entity in entities(table, f"{series}_without_interventions"):  # abm/twins.py
        column = table[f"{series}_without_interventions[{entity}]"]
        add(f"{entity} without interventions", column, True, of=entity)
    if name in TWIN:
        for entity in entities(table, TWIN[name]):
            column = table[f"{TWIN[name]}[{entity}]"]
            if column.notna().any():
                add(f"without {possessive(entity)} action", column.ffill(), True)
    return lines


def floor_zero(name: str) -> bool:
    """Whether the panel's y axis starts at zero (shares: a series not yet measured reads so)."""
    return name not in TWIN
