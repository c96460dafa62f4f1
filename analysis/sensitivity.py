"""Sobol first- and total-order sensitivity indices of an outcome, from a Sobol sweep.

Reads a sweep folder made with ``design: sobol`` (Saltelli sampling through SALib),
averages each point over its replicates and estimates the indices with
``SALib.analyze.sobol`` (95% bootstrap intervals). Writes a table (CSV) and a bar chart:

    python analysis/sensitivity.py outputs/sweeps/leverage_sensitivity \
        --outcome "mean_leverage[strikers]" --out sensitivity.csv

The chart is written next to the table (same name, .png).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abm.sweep.analysis import sobol_indices  # noqa: E402
from abm.sweep.store import read_results  # noqa: E402


def analyse(folder: Path, outcome: str, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the indices table and its bar chart; return both paths."""
    table, manifest = read_results(folder)
    indices = sobol_indices(table, manifest, outcome, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    indices.to_csv(out, index=False)
    fig, ax = plt.subplots(figsize=(5.5, 0.5 + 0.45 * len(indices) + 1), layout="constrained")
    pos = np.arange(len(indices))
    ax.barh(pos - 0.2, indices["S1"], 0.4, xerr=indices["S1_conf"], label="first order (S1)")
    ax.barh(pos + 0.2, indices["ST"], 0.4, xerr=indices["ST_conf"], label="total order (ST)")
    ax.set_yticks(pos, indices["parameter"], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"Sobol index of {outcome}")
    ax.legend(fontsize=8, frameon=False)
    chart = out.with_suffix(".png")
    fig.savefig(chart, dpi=150)
    plt.close(fig)
    return out, chart


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="A Sobol sweep folder (outputs/sweeps/<name>).")
    parser.add_argument("--outcome", required=True, help="Outcome column.")
    parser.add_argument(
        "--out", type=Path, required=True, help="Table (.csv); chart: same name .png."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap intervals.")
    args = parser.parse_args(argv)
    try:
        table, chart = analyse(args.folder, args.outcome, args.out, args.seed)
    except ValueError as err:
        print(f"sensitivity: {err}", file=sys.stderr)
        return 2
    print(f"wrote {table} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
