"""An outcome against a swept parameter, mean and 95% confidence band over replicates.

One line per level of a second swept parameter (--hue); any other varied field is
averaged over. Example (the strike curve, leverage against the share of users
striking, one line per dataset):

    python analysis/figure.py outputs/sweeps/strike_curve \
        --x collectives.strikers.size --y "final_leverage[strikers]" --hue task.name \
        --out strike_curve.png

Also writes the plotted numbers next to the figure (same name, .csv).

Axis labels are the schema's meaning and unit of the swept field and the outcome's
declared meaning and unit (abm/metrics.py); a band never leaves the outcome's valid
range (a share stays in [0, 1]); the title gives the actual number of runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from abm.metrics import OUTCOMES  # noqa: E402
from abm.sweep.analysis import mean_ci, read_results  # noqa: E402

# Valid range of an outcome by unit; "_change" outcomes are differences of two values.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "share": (0.0, 1.0),
    "share of gap": (0.0, 1.0),  # leverage is clipped to [0, 1] (abm/bargaining.py)
    "0/1": (0.0, 1.0),
    "samples": (0.0, None),
    "utility": (0.0, None),
    "score": (None, 1.0),  # accuracy is in [0, 1], R^2 is at most 1
}


def outcome_of(column: str):
    """The declared outcome of a column such as ``final_leverage[strikers]`` (or None)."""
    name = column.partition("[")[0]
    return next((o for o in OUTCOMES if o.name == name), None)


def valid_range(column: str) -> tuple[float | None, float | None]:
    """The values an outcome column can take (``None``: unbounded on that side)."""
    o = outcome_of(column)
    if o is None or o.name == "value":  # a Shapley value can be negative
        return None, None
    if o.name.endswith("_change"):
        return (-1.0, 1.0) if o.unit in ("share", "score") else (None, None)
    return RANGES.get(o.unit, (None, None))


def outcome_label(column: str) -> str:
    """``Last measured leverage, strikers (share of gap)`` for ``final_leverage[strikers]``."""
    o = outcome_of(column)
    if o is None:
        return column
    entity = column.partition("[")[2].rstrip("]")
    text = o.meaning.rstrip(".")
    text = f"{text}, {entity}" if entity else text
    return f"{text} ({o.unit})" if o.unit not in ("", "-", "0/1") else text


def field_label(path: str) -> str:
    """The schema's meaning and unit of a swept field such as ``collectives.strikers.size``."""
    from abm.viz.params import field_info, label

    parts, concrete = path.split("."), []
    i = 0
    while i < len(parts):
        concrete.append(parts[i])
        try:
            ann = field_info(".".join(concrete)).annotation
        except KeyError:
            return path
        if getattr(ann, "__origin__", None) is list and i + 1 < len(parts):
            concrete[-1] = f"{parts[i]}[{parts[i + 1]}]"  # a list item, by name
            i += 1
        i += 1
    try:
        return label(".".join(concrete))
    except (KeyError, TypeError):
        return path


def draw(folder: Path, x: str, y: str, hue: str | None, out: Path, level: float = 0.95) -> Path:
    """Draw the figure and write it (and its numbers as CSV); return the figure's path."""
    table, manifest = read_results(folder)
    factors = manifest.get("factors", [])
    for flag, col in (("--x", x), ("--hue", hue)):
        if col is not None and col not in factors:
            raise ValueError(
                f"{flag}: a varied field of the sweep ({', '.join(factors)}), got '{col}'"
            )
    summary = mean_ci(table, x, y, hue, level)
    lo, hi = valid_range(y)
    summary["low"] = summary["low"].clip(lower=lo, upper=hi)
    summary["high"] = summary["high"].clip(lower=lo, upper=hi)
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    groups = summary.groupby(hue, sort=True) if hue else [(None, summary)]
    for name, part in groups:
        part = part.sort_values(x)
        (line,) = ax.plot(part[x], part["mean"], marker="o", ms=3, label=str(name))
        ax.fill_between(
            part[x], part["low"], part["high"], color=line.get_color(), alpha=0.2, linewidth=0
        )
    ax.set_xlabel(field_label(x), fontsize=9)
    ax.set_ylabel(outcome_label(y), fontsize=9)
    ax.set_title(title(manifest.get("name", ""), summary, level), fontsize=9)
    if hue:
        ax.legend(fontsize=8, frameon=False, title=field_label(hue), title_fontsize=8)
    ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    summary.to_csv(out.with_suffix(".csv"), index=False)
    return out


def title(name: str, summary, level: float) -> str:
    """The figure's title with the runs it actually averages."""
    n = summary["n"].astype(int)
    total = int(n.sum())
    if not len(n):
        return f"{name}: no runs"
    each = f"{n.min()} per point" if n.min() == n.max() else f"{n.min()}-{n.max()} per point"
    return f"{name}: mean and {level:.0%} CI, {total} runs ({each}, {len(n)} points)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="A sweep folder (outputs/sweeps/<name>).")
    parser.add_argument("--x", required=True, help="Varied field on the horizontal axis.")
    parser.add_argument(
        "--y", required=True, help="Outcome column, e.g. 'final_leverage[strikers]'."
    )
    parser.add_argument("--hue", default=None, help="Varied field: one line per level.")
    parser.add_argument("--level", type=float, default=0.95, help="Confidence level.")
    parser.add_argument("--out", type=Path, required=True, help="Figure file (.png, .pdf, .svg).")
    args = parser.parse_args(argv)
    try:
        path = draw(args.folder, args.x, args.y, args.hue, args.out, args.level)
    except ValueError as err:
        print(f"figure: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
