"""What the poison filter costs without poisoners and saves with them, over many seeds.

The setting of ``tests/test_poison_filter.py``: ``scenarios/poisoning.yaml`` (500 users,
30 steps) with ``platforms.incumbent.filter_poison`` on, 0% and 20% poisoners. For each
replicate seed (``spawn_seed(42, r)``, as ``abm check`` pairs them) and poisoner share,
the incumbent's ``filter_quality_cost`` (its final quality in the twin with the filter
off minus with it on), the share of received rows the filter dropped, and the
countermeasure's cost in utility.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/poison_filter.py \
        [--seeds 20] [--drop 0.01] [--calibration 200]

Prints one line per seed, then each quantity's mean, 95% interval and extremes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from abm.intervals import mean_ci
from abm.runner import replicate_seeds, simulate
from abm.scenario import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the seeds and print the filter's cost with and without poisoners."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--drop", type=float, default=0.01, help="platforms.*.filter_drop")
    ap.add_argument("--calibration", type=int, default=200, help="filter_calibration")
    args = ap.parse_args()
    base = load_scenario(ROOT / "scenarios" / "poisoning.yaml")
    rows = []
    for seed in replicate_seeds(base.seed, args.seeds):
        row = []
        for size in (0.0, 0.2):
            spec = with_overrides(base, {
                "collectives.poisoners.size": size,
                "platforms.incumbent.filter_poison": True,
                "platforms.incumbent.filter_drop": args.drop,
                "platforms.incumbent.filter_calibration": args.calibration,
            })  # fmt: skip
            o = simulate(spec, seed=seed).outcomes
            row += [o["filter_quality_cost[incumbent]"],
                    o["data_filtered[incumbent]"] / o["data_received[incumbent]"]]  # fmt: skip
        rows.append(row)
        print(seed, np.round(row, 4).tolist(), flush=True)
    names = ["cost, no poisoners", "dropped, no poisoners", "cost, 20% poisoners",
             "dropped, 20% poisoners"]  # fmt: skip
    for name, col in zip(names, np.array(rows).T, strict=True):
        mean, lo, hi = mean_ci(col, 0.95)
        print(f"{name}: {mean:+.4f} [{lo:+.4f}, {hi:+.4f}] (min {col.min():+.4f}, "
              f"max {col.max():+.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
