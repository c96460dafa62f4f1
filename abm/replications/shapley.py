"""Data valuation: KNN-Shapley values and their Monte Carlo check.

Modelling assumption: a point's value is its exact Shapley value under the KNN utility
(Jia et al., VLDB 2019), computed in closed form; TMC-Shapley (Ghorbani & Zou, ICML 2019)
with the same utility must rank points alike. Flipped labels are the points whose value
should be lowest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from abm import levers, valuation
from abm.learning import (
    KNearestNeighbours,
)
from abm.replications.common import (
    Result,
    above,
    cached_task,
    ci_text,
    interval,
    make_result,
    near,
    new_figure,
    spawn_seeds,
)
from abm.replications.spec import Experiment, load_experiment


def _valuation_data(exp: Experiment, seed: int, n_train: int, n_test: int):
    task = cached_task(exp.task, seed, True, 0.25)
    rng = np.random.default_rng(seed + 3)
    tr = rng.choice(task.n_train, n_train, replace=False)
    te = rng.choice(task.n_test, n_test, replace=False)
    return task.X_train[tr], task.y_train[tr], task.X_test[te], task.y_test[te], task.n_classes, rng


def _flipped_subset(exp: Experiment, seed: int, n_train: int, n_test: int):
    """A valuation subset whose training labels have a ``flip_rate`` share flipped.

    Sizes come from the file's ``n_train``/``n_test`` params, or these defaults.

    Returns:
        ``(X, y, flipped, Xt, yt, n_classes, rng)``.
    """
    X, y, Xt, yt, n_classes, rng = _valuation_data(
        exp, seed, int(exp.param("n_train", n_train)), int(exp.param("n_test", n_test))
    )
    y, flipped = levers.flip_labels(y, float(exp.param("flip_rate", 0.1)), n_classes, rng)
    return X, y, flipped, Xt, yt, n_classes, rng


def knn_shapley_checks(path: Path, fast: bool, ablate: bool) -> Result:
    """Efficiency, flipped labels valued lowest, and removal curves (per split)."""
    exp = load_experiment(path).reduced(fast)
    k = int(exp.param("k", 5))
    rows, removal = [], []
    for i, s in enumerate(spawn_seeds(exp.seed, exp.splits)):
        X, y_flip, flipped, Xt, yt, n_classes, rng = _flipped_subset(exp, s, 400, 200)
        values = valuation.knn_shapley(X, y_flip, Xt, yt, k)
        if ablate:
            values = rng.permutation(values) + rng.normal(0.0, values.std() + 1e-3, len(values))
        efficiency = abs(values.sum() - valuation.knn_utility(X, y_flip, Xt, yt, k))
        bottom = np.argsort(values)[: int(flipped.sum())]
        order_high = np.argsort(-values)

        def acc(idx, X=X, y_flip=y_flip, Xt=Xt, yt=yt, rng=rng, n_classes=n_classes):
            return KNearestNeighbours(n_classes, k).fit(X[idx], y_flip[idx], rng).score(Xt, yt)

        for frac in exp.fractions:
            n = len(y_flip)
            m = int(round(frac * n))
            keep_high = np.setdiff1d(np.arange(n), order_high[:m])
            randoms = [np.setdiff1d(np.arange(n), rng.permutation(n)[:m])
                       for _ in range(exp.replicates)]  # fmt: skip
            removal.append({"split": i, "removed": frac, "high_value_first": acc(keep_high),
                            "random": float(np.mean([acc(j) for j in randoms]))})  # fmt: skip
        rows.append({"split": i, "efficiency": efficiency,
                     "precision": float(flipped[bottom].mean())})  # fmt: skip
    per = pd.DataFrame(rows)
    rem = pd.DataFrame(removal)
    last = rem[rem.removed == exp.fractions[-1]]
    gap = interval(last.random.values - last.high_value_first.values)
    precision = interval(per.precision)
    min_precision = exp.published["flipped_in_lowest"]
    ok = per.efficiency.max() <= exp.tolerance and precision[0] >= min_precision and above(gap)
    table = rem.groupby("removed")[["high_value_first", "random"]].mean().reset_index()
    fig, (ax, bx) = new_figure(exp.title, 2)
    ax.bar(per.split, per.precision)
    ax.axhline(min_precision, color="grey", lw=0.8)
    ax.set(xlabel="split", ylabel="share of the lowest-valued that are flipped")
    bx.plot(table.removed, table.high_value_first, "o-", label="highest value first")
    bx.plot(table.removed, table.random, "s--", label="random")
    bx.set(xlabel="share of training data removed", ylabel="KNN accuracy")
    bx.legend()
    return make_result(
        exp, precision,
        obtained=f"share of the lowest-valued that are flipped {ci_text(precision, 2)}; "
        f"max |sum - V(D)| = {per.efficiency.max():.1e}; at {exp.fractions[-1]:.0%} "
        f"removed, random minus high-first {ci_text(gap, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


def tmc_vs_knn(path: Path, fast: bool, ablate: bool) -> Result:
    """TMC-Shapley with the KNN utility on a small subset, against the exact values."""
    exp = load_experiment(path).reduced(fast)
    k = int(exp.param("k", 5))
    n_perm = int(exp.param("permutations", 200))
    rhos, pairs = [], []
    for i, s in enumerate(spawn_seeds(exp.seed, exp.splits)):
        X, y, _, Xt, yt, _, rng = _flipped_subset(exp, s, 40, 100)
        exact = valuation.knn_shapley(X, y, Xt, yt, k)

        def utility(idx: np.ndarray, X=X, y=y, Xt=Xt, yt=yt) -> float:
            return valuation.knn_utility(X[idx], y[idx], Xt, yt, k)

        tmc = valuation.tmc_shapley(len(y), utility, rng, n_perm,
                                    float(exp.param("truncation", 0.01)))  # fmt: skip
        if ablate:
            tmc = rng.permutation(tmc)
        rhos.append(float(spearmanr(exact, tmc).statistic))
        pairs.append(pd.DataFrame({"split": i, "exact": exact, "tmc": tmc}))
    rho = interval(rhos)
    target = exp.published["spearman"]
    table = pd.concat(pairs, ignore_index=True)
    fig, (ax,) = new_figure(exp.title)
    ax.scatter(table.exact, table.tmc, s=12, c=table.split)
    ax.set(xlabel="KNN-Shapley (exact)", ylabel=f"TMC-Shapley ({n_perm} permutations)")
    ax.set_title(f"Spearman {rho[0]:.2f}", fontsize=9)
    return make_result(
        exp, rho,
        obtained=f"Spearman {ci_text(rho)} ({len(y)} points, {n_perm} permutations)",
        passed=near(target, rho, exp.tolerance), table=table, figure=fig,
    )  # fmt: skip
