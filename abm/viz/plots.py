"""Matplotlib figures of a run's series, shared by reports, the CLI and the viewer.

Each function takes the per-step model table (columns ``series[entity]``) and returns
a Figure, so the same drawing serves a PNG in an output folder, an embedded image in
an HTML report and a live panel in the browser viewer.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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


def series_figure(
    table: pd.DataFrame, name: str, figsize: tuple[float, float] = (6, 3.2)
) -> Figure:
    """One panel: a series over steps, one line per entity.

    On the quality panel, each collective's target in its twin world (without the
    campaign) is drawn dashed, so the gap the campaign opens is visible.
    """
    series, title, ylabel = PLOTS[name]
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    steps = table.index if "step" not in table.columns else table["step"]
    for entity in entities(table, series):
        ax.plot(steps, table[f"{series}[{entity}]"], label=entity, lw=1.8)
    if name == "quality":
        for entity in entities(table, "twin_quality"):
            col = table[f"twin_quality[{entity}]"]
            if col.notna().any():
                ax.plot(steps, col.ffill(), ls="--", lw=1.2, label=f"without {entity}'s action")
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    ax.set_xlim(0, max(float(max(steps, default=0)), 1.0))
    if name != "quality":  # shares: from zero, so a series not yet measured reads as such
        ax.set_ylim(bottom=0, top=max(float(np.nanmax(ax.get_ylim())), 0.05))
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


RESPONSE_MARKERS = {
    "ignore": ("x", "#7f7f7f"),
    "negotiate": ("o", "#1f77b4"),
    "concede": ("*", "#2ca02c"),
}


def bargaining_figure(
    table: pd.DataFrame, log: list[dict] | pd.DataFrame, figsize: tuple[float, float] = (6, 3.2)
) -> Figure:
    """Bargaining: each collective's cumulative dividend, and every round's outcome.

    Args:
        table: The per-step model table (columns ``dividend[collective]``).
        log: Bargaining rounds (``model.bargaining_log`` or the run's bargaining table):
            ``step`` (0-based step index), ``collective``, ``dividend``, ``response``.
        figsize: Figure size in inches.

    Returns:
        A figure: lines for dividends won, markers for the dividend each round settled
        on, shaped by the platform's response (ignore, negotiate, concede).
    """
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    steps = table.index if "step" not in table.columns else table["step"]
    for entity in entities(table, "dividend"):
        ax.plot(steps, table[f"dividend[{entity}]"], lw=1.8, label=f"{entity}: dividend won")
    rounds = pd.DataFrame(log)
    if len(rounds):
        for response, (marker, colour) in RESPONSE_MARKERS.items():
            sel = rounds[rounds["response"] == response]
            if len(sel):
                # Table row t + 1 records the state after step index t.
                ax.scatter(sel["step"] + 1, sel["dividend"], marker=marker, c=colour, s=40,
                           label=f"round: {response}", zorder=3)  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no bargaining round yet", transform=ax.transAxes, ha="center",
                va="center", color="#7f7f7f")  # fmt: skip
    ax.set(title="Bargaining outcomes and dividends", xlabel="step", ylabel="dividend (utility)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig
