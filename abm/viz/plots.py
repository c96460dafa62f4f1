"""Matplotlib figures of a run's series, shared by reports, the CLI and the viewer.

Each function takes the per-step model table (columns ``series[entity]``) and returns
a Figure, so the same drawing serves a PNG in an output folder, an embedded image in
an HTML report and a live panel in the browser viewer.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PLOTS: dict[str, tuple[str, str, str]] = {
    # name: (series, title, y label)
    "quality": ("quality", "Model quality per platform", "held-out quality"),
    "market_share": ("share", "Market share", "share of users"),
    "participation": ("participation", "Participation per collective", "share of users acting"),
    "leverage": ("leverage", "Measured leverage", "share of gap removed"),
}


def entities(table: pd.DataFrame, series: str) -> list[str]:
    """Entity names that have a column for ``series``."""
    prefix = f"{series}["
    return [c[len(prefix) : -1] for c in table.columns if c.startswith(prefix)]


def series_figure(table: pd.DataFrame, name: str, figsize: tuple[float, float] = (6, 3.2)) -> Figure:
    """One panel: a series over steps, one line per entity.

    On the quality panel, each collective's counterfactual quality of its target is
    drawn dashed, so the gap the campaign opens is visible.
    """
    series, title, ylabel = PLOTS[name]
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    steps = table.index if "step" not in table.columns else table["step"]
    for entity in entities(table, series):
        ax.plot(steps, table[f"{series}[{entity}]"], label=entity, lw=1.8)
    if name == "quality":
        for entity in entities(table, "counterfactual_quality"):
            col = table[f"counterfactual_quality[{entity}]"]
            if col.notna().any():
                ax.plot(steps, col.ffill(), ls="--", lw=1.2, label=f"without {entity}'s action")
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def available(table: pd.DataFrame) -> list[str]:
    """The plots that have data in this table."""
    return [n for n, (s, _, _) in PLOTS.items() if entities(table, s)]


def close(fig: Figure) -> None:
    """Release a figure's memory."""
    plt.close(fig)
