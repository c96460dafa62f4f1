"""Paired comparison of two scenarios: the same seeds through both, differences with CIs.

The modelling assumption is that of common random numbers: replicate ``i`` runs
scenario A and scenario B with the same seed, spawned from one root with numpy's
:class:`~numpy.random.SeedSequence`, so both runs draw the same network, the same data
split and the same users' thresholds wherever the two scenarios agree. The difference
``B - A`` of an outcome in one replicate is then mostly the effect of what the two
files change, and its mean over replicates gets a paired (Student t) 95% confidence
interval: ``mean +/- t_{0.975, n-1} * sd / sqrt(n)``.

:func:`compare` is pure (no I/O); :func:`write_comparison` writes a new folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from scipy import stats

import abm
from abm.metrics import OUTCOMES
from abm.runner import git_commit, new_folder, simulate, spawn_seed
from abm.scenario import Scenario, dump_scenario

TABLE_COLUMNS = ["outcome", "unit", "n", "mean_a", "mean_b", "diff", "ci_lo", "ci_hi"]
# Units bounded to [0, 1] (or close), which share one axis in the difference plot.
PLOTTED_UNITS = ("score", "share", "share of gap", "0/1")


@dataclass
class Comparison:
    """Two scenarios run on the same seeds, and their paired differences."""

    a: Scenario
    b: Scenario
    seeds: list[int]
    runs: pd.DataFrame  # long: replicate, seed, scenario ("A"/"B"), outcome, value
    table: pd.DataFrame  # one row per outcome: TABLE_COLUMNS
    confidence: float = 0.95


def replicate_seeds(root: int, n: int) -> list[int]:
    """``n`` independent seeds spawned from one root seed (as a sweep spawns them).

    Args:
        root: The root seed.
        n: Number of replicates.

    Returns:
        One non-negative integer seed per replicate.
    """
    return [spawn_seed(root, r) for r in range(n)]


def run_pairs(a: Scenario, b: Scenario, seeds: list[int], steps: int | None = None) -> pd.DataFrame:
    """Run both scenarios once per seed and collect every outcome.

    Args:
        a: The reference scenario.
        b: The scenario compared with it.
        seeds: One seed per replicate, used for both scenarios.
        steps: Overrides both scenarios' ``steps``.

    Returns:
        A long table with columns replicate, seed, scenario, outcome, value.
    """
    rows = []
    for i, seed in enumerate(seeds):
        for label, spec in (("A", a), ("B", b)):
            result = simulate(spec, seed=seed, steps=steps)
            for outcome, value in result.outcomes.items():
                rows.append((i, seed, label, outcome, value))
    return pd.DataFrame(rows, columns=["replicate", "seed", "scenario", "outcome", "value"])


def _unit(outcome: str) -> str:
    name = outcome.partition("[")[0]
    return next((o.unit for o in OUTCOMES if o.name == name), "")


def paired_ci(diffs: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its Student t confidence interval.

    Args:
        diffs: The per-replicate differences ``B - A`` (NaNs dropped by the caller).
        confidence: Two-sided confidence level.

    Returns:
        ``(mean, lo, hi)``; the bounds are NaN with fewer than two differences.
    """
    n = diffs.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(diffs.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * diffs.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def difference_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per outcome: means under A and B, and the paired difference B - A with its CI.

    Outcomes present in only one scenario (a collective that exists only in B, say)
    keep their mean and get NaN differences.
    """
    wide = runs.pivot_table(
        index=["outcome", "replicate"], columns="scenario", values="value", dropna=False
    )
    wide = wide.reindex(columns=["A", "B"])
    order = list(dict.fromkeys(runs["outcome"]))
    rows = []
    for outcome in order:
        w = wide.loc[outcome]
        both = w.dropna()
        diff, lo, hi = paired_ci((both["B"] - both["A"]).to_numpy(float), confidence)
        rows.append(
            {
                "outcome": outcome,
                "unit": _unit(outcome),
                "n": len(both),
                "mean_a": float(w["A"].mean()),
                "mean_b": float(w["B"].mean()),
                "diff": diff,
                "ci_lo": lo,
                "ci_hi": hi,
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def compare(
    a: Scenario,
    b: Scenario,
    replicates: int,
    *,
    steps: int | None = None,
    root_seed: int | None = None,
    confidence: float = 0.95,
) -> Comparison:
    """Run ``replicates`` paired replicates of A and B and tabulate the differences.

    Args:
        a: The reference scenario.
        b: The scenario compared with it (differences are B - A).
        replicates: Number of seeds (at least 1; CIs need 2).
        steps: Overrides both scenarios' ``steps``.
        root_seed: Root of the spawned seeds (default: A's seed).
        confidence: Two-sided confidence level of the intervals.

    Returns:
        The comparison: seeds, every run's outcomes, the difference table.
    """
    if replicates < 1:
        raise ValueError(f"--replicates: a number >= 1, got {replicates}")
    seeds = replicate_seeds(a.seed if root_seed is None else root_seed, replicates)
    runs = run_pairs(a, b, seeds, steps)
    return Comparison(a, b, seeds, runs, difference_table(runs, confidence), confidence)


def format_table(table: pd.DataFrame) -> str:
    """The difference table as aligned text, for the terminal."""
    shown = table.copy()
    for col in ("mean_a", "mean_b", "diff", "ci_lo", "ci_hi"):
        shown[col] = shown[col].map(lambda v: "" if v != v else f"{v:.4g}")
    return shown.to_string(index=False)


def figure(comparison: Comparison) -> Figure:
    """A forest plot: each bounded outcome's mean difference B - A with its CI."""
    t = comparison.table
    t = t[t["unit"].isin(PLOTTED_UNITS) & t["diff"].notna()].iloc[::-1]
    fig = Figure(figsize=(7, 0.35 * max(len(t), 3) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(t))
    lo = (t["diff"] - t["ci_lo"]).fillna(0).clip(lower=0)
    hi = (t["ci_hi"] - t["diff"]).fillna(0).clip(lower=0)
    ax.errorbar(t["diff"], y, xerr=[lo, hi], fmt="o", color="tab:blue", capsize=3)
    ax.axvline(0, color="#888", lw=1)
    ax.set_yticks(y, t["outcome"], fontsize=8)
    level = round(comparison.confidence * 100)
    ax.set(
        title=f"{comparison.b.name} minus {comparison.a.name} ({len(comparison.seeds)} seeds)",
        xlabel=f"difference B - A, {level}% CI (paired t)",
    )
    ax.grid(alpha=0.3, axis="x")
    return fig


def write_comparison(comparison: Comparison, out_root: str | Path) -> Path:
    """Write a comparison into a new folder under ``out_root`` and return its path.

    Contents: ``differences.csv`` (the table), ``runs.csv`` (every run's outcomes),
    ``a.yaml`` and ``b.yaml`` (resolved scenarios), ``manifest.yaml`` (seeds, versions)
    and ``differences.png``. Written into a hidden temporary folder first and moved into
    place when complete, so nothing half-written is left behind.
    """

    def write(tmp: Path) -> None:
        comparison.table.to_csv(tmp / "differences.csv", index=False)
        comparison.runs.to_csv(tmp / "runs.csv", index=False)
        (tmp / "a.yaml").write_text(dump_scenario(comparison.a))
        (tmp / "b.yaml").write_text(dump_scenario(comparison.b))
        manifest = {
            "abm_version": abm.__version__,
            "a": comparison.a.name,
            "b": comparison.b.name,
            "replicates": len(comparison.seeds),
            "seeds": comparison.seeds,
            "confidence": comparison.confidence,
            "git_commit": git_commit(),
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        figure(comparison).savefig(tmp / "differences.png", dpi=110)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return new_folder(
        out_root, f"compare-{comparison.a.name}-vs-{comparison.b.name}-{stamp}", write
    )
