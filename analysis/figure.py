"""An outcome against a swept parameter, mean and 95% confidence band over replicates.

One line per level of a second swept parameter (--hue); any other varied field is
averaged over. Example (the strike curve, leverage against the share of users
striking, one line per dataset):

    python analysis/figure.py outputs/sweeps/strike_curve \
        --x collectives.strikers.size --y "final_leverage[strikers]" --hue task.name \
        --out strike_curve.png

Also writes the plotted numbers next to the figure (same name, .csv).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from abm.sweep.analysis import mean_ci, read_results  # noqa: E402


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
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    groups = summary.groupby(hue, sort=True) if hue else [(None, summary)]
    for name, part in groups:
        part = part.sort_values(x)
        label = f"{hue} = {name}" if hue else None
        (line,) = ax.plot(part[x], part["mean"], marker="o", ms=3, label=label)
        ax.fill_between(
            part[x], part["low"], part["high"], color=line.get_color(), alpha=0.2, linewidth=0
        )
    n = int(summary["n"].min()) if len(summary) else 0
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(
        f"{manifest.get('name', '')}: mean and {level:.0%} CI (n >= {n} runs per point)", fontsize=9
    )
    if hue:
        ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    summary.to_csv(out.with_suffix(".csv"), index=False)
    return out


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
