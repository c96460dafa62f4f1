"""The figure of a sweep: each outcome against a varied field, mean and 95% band.

``abm figure SWEEP_FOLDER`` draws one panel per outcome the sweep kept, the first
varied field on the horizontal axis and one line per level of the second (when it has
few levels); any other varied field is averaged over. The band is the Student t
interval over every run sharing the line's and the axis's values
(:func:`abm.sweep.analysis.mean_ci`), clipped only at an outcome's declared bounds, so a
signed outcome keeps its whole band and every band contains its mean. The plotted
numbers are written next to the figure (same name, ``.csv``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from abm.scenario import ScenarioError
from abm.sweep.analysis import field_label, mean_ci, outcome_label
from abm.sweep.store import read_results

MAX_LINES = 8  # a second field with more levels than this is averaged over, not drawn


def choose(
    table: pd.DataFrame, manifest: dict[str, Any], x: str | None, hue: str | None,
    outcomes: list[str] | None,
) -> tuple[str, str | None, list[str]]:  # fmt: skip
    """The axis field, the line field and the outcomes: the flags given, else defaults.

    Raises:
        ValueError: A flag names no varied field or no outcome of the sweep.
    """
    factors = list(manifest.get("factors", []))
    for flag, col in (("--x", x), ("--hue", hue)):
        if col is not None and col not in factors:
            raise ValueError(
                f"{flag}: a varied field of the sweep ({', '.join(factors)}), got '{col}'"
            )
    x = x or factors[0]
    if hue is None:
        rest = [f for f in factors if f != x]
        if rest and table[rest[0]].nunique() <= MAX_LINES:
            hue = rest[0]
    kept = list(manifest.get("outcomes") or [])
    for name in outcomes or []:
        if name not in table.columns or name in factors:
            raise ValueError(f"--y: an outcome of the sweep ({', '.join(kept)}), got '{name}'")
    return x, hue, list(outcomes or kept)


def draw(
    folder: str | Path,
    x: str | None = None,
    hue: str | None = None,
    outcomes: list[str] | None = None,
    out: str | Path | None = None,
    level: float = 0.95,
) -> Path:
    """Draw the sweep's figure and write it with its numbers; return the figure's path.

    Args:
        folder: A completed sweep folder.
        x: Varied field on the horizontal axis (default: the first).
        hue: Varied field drawn as one line per level (default: the second, if it has
            at most :data:`MAX_LINES` levels).
        outcomes: Outcome columns, one panel each (default: every outcome kept).
        out: The figure file (``.png``, ``.pdf``, ``.svg``; default ``folder/figure.png``).
        level: Confidence level of the bands.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    folder = Path(folder)
    out = Path(out) if out is not None else folder / "figure.png"
    kinds = FigureCanvasBase.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in kinds:
        raise ScenarioError(out, "--out", f"a figure file: .png, .pdf, .svg or another of "
                            f"{', '.join(sorted(kinds))}")  # fmt: skip
    table, manifest = read_results(folder)
    x, hue, outcomes = choose(table, manifest, x, hue, outcomes)
    cols = min(3, len(outcomes))
    rows = math.ceil(len(outcomes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.4 * cols, 5.5), 3.3 * rows + 0.8),
                             layout="constrained", squeeze=False)  # fmt: skip
    numbers = []
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        summary = mean_ci(table, x, outcome, hue, level)
        _panel(ax, summary, x, hue, outcome, connect=manifest.get("design") == "grid")
        numbers.append(summary.assign(outcome=outcome))
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    if hue:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, title=field_label(hue), loc="outside lower center",
                   ncols=min(len(labels), 6), fontsize=8, title_fontsize=8,
                   frameon=False)  # fmt: skip
    fig.suptitle(title(_name(manifest), table, level), fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, dpi=150)
    finally:
        plt.close(fig)
    pd.concat(numbers, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False)
    return out


def _panel(
    ax: Any, summary: pd.DataFrame, x: str, hue: str | None, outcome: str, connect: bool
) -> None:
    """One outcome: a line and band per level of ``hue``; categories get error bars.

    Points of a sampled design (random, Latin hypercube, Sobol) differ in every field,
    so they are not joined: each gets its mean and interval as an error bar.
    """
    numeric = pd.api.types.is_numeric_dtype(summary[x]) and not pd.api.types.is_bool_dtype(
        summary[x]
    )
    levels = None if numeric else sorted(summary[x].unique(), key=str)
    groups = list(summary.groupby(hue, sort=True)) if hue else [(None, summary)]
    for i, (name, part) in enumerate(groups):
        if numeric and not connect:
            err = [part["mean"] - part["low"], part["high"] - part["mean"]]
            ax.errorbar(part[x], part["mean"], yerr=err, fmt="o", ms=3, capsize=2,
                        elinewidth=0.8, label=str(name))  # fmt: skip
            continue
        if numeric:
            part = part.sort_values(x)
            (line,) = ax.plot(part[x], part["mean"], marker="o", ms=3, label=str(name))
            ax.fill_between(part[x], part["low"], part["high"], color=line.get_color(),
                            alpha=0.2, linewidth=0)  # fmt: skip
            continue
        # Categories are not a continuum: a point and its interval, levels side by side.
        pos = part[x].map(levels.index) + 0.3 * (i - (len(groups) - 1) / 2) / len(groups)
        err = [part["mean"] - part["low"], part["high"] - part["mean"]]
        ax.errorbar(pos, part["mean"], yerr=err, fmt="o", ms=4, capsize=3, label=str(name))
    if levels:
        ax.set_xticks(range(len(levels)), [str(v) for v in levels], fontsize=8)
    ax.set_xlabel(field_label(x), fontsize=9)
    ax.set_ylabel(outcome_label(outcome), fontsize=9)
    ax.grid(alpha=0.3)


def _name(manifest: dict[str, Any]) -> str:
    """The sweep's name, with what the command line shrank (``--steps 5``)."""
    shrunk = manifest.get("command_line") or {}
    flags = [f"--{k} {v}" for k, v in shrunk.items() if k != "set"]
    flags += [f"--set {item}" for item in shrunk.get("set", [])]
    name = str(manifest.get("name", "")).partition("-cli-")[0] if flags else manifest.get("name")
    return f"{name} ({' '.join(flags)})" if flags else str(name or "")


def title(name: str, table: pd.DataFrame, level: float) -> str:
    """The figure's title with the runs it actually averages."""
    if not len(table):
        return f"{name}\nno finished runs"
    n = table.groupby("point").size()
    each = f"{n.min()} per point" if n.min() == n.max() else f"{n.min()}-{n.max()} per point"
    return f"{name}\nmean and {level:.0%} CI, {len(table)} runs ({each}, {len(n)} points)"
