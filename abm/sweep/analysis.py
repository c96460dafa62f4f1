"""Reading a sweep folder back: replicate means with confidence bands, Sobol indices.

Confidence bands are Student-t intervals of the mean over every run that shares the
plotted parameters' values (replicates, and any other varied field, which is averaged
over). Sobol indices follow Saltelli's estimators (SALib) on the per-point mean over
replicates, in the design's point order, so they need a complete Sobol sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from abm import intervals


def read_results(folder: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A sweep folder's combined table and manifest.

    Raises:
        ValueError: The folder has no completed sweep.
    """
    folder = Path(folder)
    results, manifest = folder / "results.parquet", folder / "manifest.yaml"
    if not results.exists() or not manifest.exists():
        raise ValueError(f"{folder}: results.parquet: a completed sweep folder (run abm sweep)")
    return pd.read_parquet(results), yaml.safe_load(manifest.read_text())


def mean_ci(
    table: pd.DataFrame, x: str, y: str, hue: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Mean of ``y`` with a ``level`` confidence interval, per value of ``x`` (and ``hue``).

    Args:
        table: One row per run.
        x: Column on the horizontal axis.
        y: Outcome column.
        hue: Optional column giving one line per value.
        level: Confidence level of the interval.

    Returns:
        Columns ``[hue], x, n, mean, low, high`` sorted by ``[hue], x``; the interval is
        NaN where fewer than two finite values exist.
    """
    for name, col in (("x", x), ("y", y), ("hue", hue)):
        if col is not None and col not in table.columns:
            raise ValueError(
                f"--{name}: a column of the results ({', '.join(table.columns)}), got '{col}'"
            )
    keys = [hue, x] if hue else [x]
    rows = []
    for key, group in table.groupby(keys, sort=True, dropna=False):
        values = group[y].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        n = values.size
        mean, low, high = intervals.mean_ci(values, level)
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "n": n,
                "mean": mean,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "n", "mean", "low", "high"])


def sobol_indices(
    table: pd.DataFrame, manifest: dict[str, Any], outcome: str, seed: int = 0
) -> pd.DataFrame:
    """First- and total-order Sobol indices of one outcome from a Sobol sweep.

    Args:
        table: The combined results (one row per run).
        manifest: The sweep's manifest (holds SALib's problem definition).
        outcome: Outcome column.
        seed: Seed of SALib's bootstrap confidence intervals.

    Returns:
        One row per varied field: ``S1, S1_conf, ST, ST_conf``.
    """
    from SALib.analyze import sobol

    problem = manifest.get("sobol_problem")
    if problem is None:
        raise ValueError(f"design: a sobol sweep, got {manifest.get('design')}")
    if outcome not in table.columns:
        raise ValueError(f"--outcome: a column of the results, got '{outcome}'")
    y = table.groupby("point")[outcome].mean().reindex(range(manifest["points"]))
    missing = y.index[~np.isfinite(y.to_numpy(dtype=float))]
    if len(missing):
        raise ValueError(
            f"{outcome}: a finite value at every point (missing or NaN at {len(missing)} "
            f"points, e.g. point {int(missing[0])})"
        )
    problem = {**problem, "bounds": [list(b) for b in problem["bounds"]]}
    res = sobol.analyze(
        problem,
        y.to_numpy(dtype=float),
        calc_second_order=bool(manifest.get("second_order")),
        seed=seed,
    )
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "S1": res["S1"],
            "S1_conf": res["S1_conf"],
            "ST": res["ST"],
            "ST_conf": res["ST_conf"],
        }
    )
