"""The analyses: each runs one replication file and compares it with the paper.

Modelling assumptions shared by all analyses (each function states its own on top):

* Every random choice is spawned from the file's root seed (``numpy.random.SeedSequence``),
  so a file and ``--fast`` fix every number in the summary.
* Every obtained number is a mean over independent seeds (task splits or model runs) with
  a 95% Student-t interval. A *quantitative* check passes when the published number lies
  within the tolerance of that interval (``low - tol <= published <= high + tol``); a
  *directional* check passes when the published ordering holds with the interval of the
  paired difference above zero (significant at 95%).
* Each replication names the mechanism it tests and how it is switched off
  (:data:`MECHANISMS`). ``ablate=True`` reruns the same seeds with it off; every check
  must then fail, or it would not be testing the mechanism.
* Normalised effects follow the papers: the share of the gap between a baseline (the naive,
  non-learning model, or the worst performance observed in the experiment when the paper
  normalises that way) and the full-data model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from abm import levers, valuation  # noqa: E402
from abm.intervals import mean_ci  # noqa: E402
from abm.learning import (  # noqa: E402
    DataPool,
    KNearestNeighbours,
    ShardedTrainer,
    Task,
    cdc_curve,
    load_task,
    make_learner,
    naive_learner_for,
    normalise,
    strike_curve,
)
from abm.replications.spec import Experiment, load_experiment  # noqa: E402
from abm.scenario import Lever, Scenario, load_scenario, with_overrides  # noqa: E402

__all__ = ["ANALYSES", "MECHANISMS", "Result", "interval"]


@dataclass
class Result:
    """One replication's outcome: a summary row, its figure and the numbers behind it.

    ``obtained_low``/``obtained_high`` bound the 95% interval of the headline number (the
    first number in ``obtained``) over ``seeds`` independent seeds.
    """

    name: str
    title: str
    check: str
    published: str
    obtained: str
    tolerance: str
    passed: bool
    obtained_low: float = float("nan")
    obtained_high: float = float("nan")
    seeds: int = 0
    mechanism: str = ""
    ablated: bool = False
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: plt.Figure | None = None


MECHANISMS: dict[str, tuple[str, str]] = {
    "strike_curve": ("strikers' rows are withheld from the refit", "no row is withheld"),
    "cdc_curve": ("contributed rows are redirected to the competitor",
                  "nothing is redirected: the competitor has no data (naive model)"),
    "strike_vs_cdc": ("strikers withhold rows; contributors redirect them",
                      "no row is withheld or redirected"),
    "normalisation": ("striking raters' ratings are withheld from the recommender",
                      "no rating is withheld"),
    "larger_is_robust": ("a 30% strike on training sets of the same task at three sizes",
                         "no row is withheld"),
    "group_strike": ("one community's data is withheld (strike)",
                     "the collective does not strike"),
    "strike_plus_cdc": ("20% of users withhold from the incumbent, contribute to the "
                        "challenger, or both", "the collective does not act"),
    "signal_planting": ("members plant a trigger with the target label",
                        "no trigger is planted"),
    "conflicting_collectives": ("two collectives plant one trigger with different targets",
                                "one collective instead of two"),
    "size_vs_homogeneity": ("recommender collectives against a rival: twice the size vs "
                            "members alike in taste", "the collective's size does not change"),
    "two_collectives": ("two collectives plant one trigger with different targets, over "
                        "sizes and homogeneity", "the rival never acts"),
    "coordination_noise": ("members misapply the trigger with probability `noise`",
                           "every member applies it exactly (noise 0 throughout)"),
    "backdoor": ("a tiny share of rows carries a trigger and the target label",
                 "no trigger is planted"),
    "knn_shapley": ("KNN-Shapley values of each training point",
                    "random values in place of the Shapley values"),
    "tmc_vs_knn": ("TMC-Shapley marginal contributions over permutations",
                   "TMC values shuffled across points"),
    "sisa": ("rows sharded by contributor; a deletion retrains its shards only",
             "no shards (one model on all rows)"),
    "ai_substitute": ("adopters (reach by month) ask the substitute instead of contributing",
                      "no substitute is released"),
    "protest_users": ("boycotters weigh the ties they lose against the best alternative",
                      "the cost of leaving is ignored (exit_cost_weight 0)"),
    "recsys_promotion": ("under 1% of raters rate an item at the top beside popular items",
                         "members act normally (the campaign never launches)"),
    "protest_repertoire": ("protesters weigh the ties they keep on each platform against the "
                           "alternative and the outside option",
                           "ties are not weighed (network_weight 0)"),
}  # fmt: skip
"""Replication name -> (the mechanism it tests, what ``--ablate`` does to switch it off)."""


# ---------------------------------------------------------------------- helpers


def interval(values) -> tuple[float, float, float, int]:
    """Mean and 95% Student-t interval over seeds (NaNs dropped).

    Returns:
        ``(mean, low, high, n)``; low and high are NaN with fewer than two values.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return (*mean_ci(v), len(v))


def _near(published: float, ci: tuple, tol: float) -> bool:
    """The published number lies within ``tol`` of the interval."""
    _, lo, hi, _ = ci
    return bool(lo - tol <= published <= hi + tol)


def _above(ci: tuple, margin: float = 0.0) -> bool:
    """The interval lies wholly above ``margin`` (an ordering significant at 95%)."""
    return bool(ci[1] > margin)


def _iv(ci: tuple, digits: int = 3) -> str:
    m, lo, hi, _ = ci
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _fmt(values, digits: int = 3) -> str:
    return " ".join(f"{v:.{digits}f}" for v in np.atleast_1d(values))


class _About(NamedTuple):
    """What a scenario-file replication is (an experiment file says it itself)."""

    name: str
    title: str
    check: str


def _result(about: Experiment | _About, head: tuple, ablate: bool, **kw) -> Result:
    """The summary row; an experiment file's claim and criterion are its default words."""
    if isinstance(about, Experiment):
        kw.setdefault("published", about.stated(about.claim))
        kw.setdefault("tolerance", about.stated(about.criterion))
    return Result(about.name, about.title, about.check, obtained_low=head[1],
                  obtained_high=head[2], seeds=head[3],
                  mechanism=MECHANISMS[about.name][1 if ablate else 0], ablated=ablate,
                  **kw)  # fmt: skip


def _seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 32-bit seeds spawned from a root seed."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@lru_cache(maxsize=64)
def _task(name: str, seed: int, standardise: bool, test_size: float) -> Task:
    return load_task(name, rng=np.random.default_rng(seed), standardise=standardise,
                     test_size=test_size)  # fmt: skip


def _digits01(seed: int, test_size: float = 0.3) -> Task:
    """Digits with pixels scaled to [0, 1] (raw intensities / 16), as in Hardt et al."""
    t = _task("digits", seed, False, test_size)
    return dataclasses.replace(t, X_train=t.X_train / 16.0, X_test=t.X_test / 16.0)


@lru_cache(maxsize=64)
def _curves(name: str, seed: int, standardise: bool, fractions: tuple, replicates: int):
    """Strike and CDC curves on one split (cached: several replications share them)."""
    task = _task(name, seed, standardise, 0.25)
    strike = strike_curve(task, fractions, np.random.default_rng(seed + 1), replicates)
    cdc = cdc_curve(task, fractions, np.random.default_rng(seed + 2), replicates)
    return strike, cdc


def _curve_table(
    exp: Experiment, name: str, ablate: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Strike and CDC curves per split; ablated, nothing is withheld or redirected.

    Without a strike the incumbent keeps its full-data model; without a redirect the
    competitor has no data and is the naive model.
    """
    strikes, cdcs = [], []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        strike, cdc = _curves(name, s, exp.standardise, tuple(exp.fractions), exp.replicates)
        strike, cdc = strike.assign(split=i), cdc.assign(split=i)
        if ablate:
            strike = strike.assign(quality=strike.full, normalised=1.0)
            cdc = cdc.assign(quality=cdc.naive, normalised=0.0)
        strikes.append(strike)
        cdcs.append(cdc)
    return pd.concat(strikes, ignore_index=True), pd.concat(cdcs, ignore_index=True)


def _per_split(df: pd.DataFrame, column: str = "quality") -> pd.DataFrame:
    """Split x fraction table of the mean over replicates (one value per seed)."""
    return df.pivot_table(index="split", columns="fraction", values=column, aggfunc="mean")


def _published(exp: Experiment, keys) -> np.ndarray:
    return np.array([exp.published[_key(k)] for k in keys])


def _key(f: float) -> str:
    return str(float(f))


def _experiment(analysis: Callable[[Experiment, bool], Result]) -> Callable[..., Result]:
    """An analysis of an experiment file, run as ``(path, fast, ablate)`` like the others.

    The file is read, and reduced to its ``fast`` block when asked, before the analysis
    sees it.
    """

    @functools.wraps(analysis)
    def run(path: Path, fast: bool, ablate: bool = False) -> Result:
        return analysis(load_experiment(path).reduced(fast), ablate)

    return run


def _figure(title: str, ncols: int = 1, width: float = 5.5) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.0), squeeze=False)
    fig.suptitle(title, fontsize=10)
    return fig, axes[0]


# ------------------------------------------------------------------ 1. strike curve


@_experiment
def strike_curve_breast_cancer(exp: Experiment, ablate: bool) -> Result:
    """Accuracy after a strike by fraction f: full refit on the remaining rows."""
    strike, _ = _curve_table(exp, exp.task, ablate)
    fractions = [f for f in exp.fractions if _key(f) in exp.published]
    per = _per_split(strike)[fractions]
    cis = [interval(per[f]) for f in fractions]
    pub = _published(exp, fractions)
    ok = all(_near(p, ci, exp.tolerance) for p, ci in zip(pub, cis, strict=True))
    fig, (ax,) = _figure(exp.title)
    mean = np.array([c[0] for c in cis])
    err = np.array([[c[0] - c[1], c[2] - c[0]] for c in cis]).T
    ax.plot(fractions, pub, "ks--", label="published")
    ax.errorbar(fractions, mean, yerr=err, fmt="o-", label="obtained (mean, 95% CI)")
    ax.set(xlabel="strike fraction f", ylabel="held-out accuracy")
    ax.legend()
    table = pd.DataFrame({"fraction": fractions, "published": pub, "obtained": mean,
                          "low": [c[1] for c in cis], "high": [c[2] for c in cis]})  # fmt: skip
    return _result(
        exp, cis[-1], ablate,
        published=f"accuracy at f={_fmt(fractions, 2)}: {_fmt(pub)}",
        obtained=f"f={fractions[-1]}: {_iv(cis[-1])}; all: {_fmt(mean)}",
        passed=ok, table=table, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------------- 2. CDC curve


@_experiment
def cdc_curve_breast_cancer(exp: Experiment, ablate: bool) -> Result:
    """A small competitor trained only on the contributed fraction f.

    The paper normalises between the worst and best performance observed: here, per
    split, the competitor at the smallest fraction and the incumbent's full-data model.
    """
    _, cdc = _curve_table(exp, exp.task, ablate)
    fractions = [f for f in exp.fractions if _key(f) in exp.published]
    per = _per_split(cdc)
    cis = [interval(per[f]) for f in fractions]
    pub = _published(exp, fractions)
    at = float(exp.param("normalised_at", 0.2))
    # One worst..best range for the experiment (pooled over splits), as the paper fixes
    # it; the numerator is paired within each split, so split-to-split noise cancels.
    worst_split = per[per.columns.min()]
    worst, best = float(worst_split.mean()), float(cdc.full.mean())
    norm = interval((per[at] - worst_split) / (best - worst))  # paired within each split
    naive = float(cdc.naive.mean())
    norm_naive = interval((per[at] - naive) / (best - naive))
    target = float(exp.param("published_normalised", 0.75))
    norm_tol = float(exp.param("normalised_tolerance", 0.1))
    acc_ok = all(_near(p, ci, exp.tolerance) for p, ci in zip(pub, cis, strict=True))
    passed = acc_ok and _near(target, norm, norm_tol)
    fig, (ax, bx) = _figure(exp.title, 2)
    mean = per.mean()
    ax.plot(fractions, pub, "ks--", label="published")
    ax.plot(mean.index, mean, "o-", label="obtained (mean over splits)")
    ax.axhline(best, color="grey", lw=0.8, label="incumbent, all data")
    ax.set(xlabel="contributing fraction f", ylabel="competitor accuracy")
    ax.legend()
    bx.plot(mean.index, (mean - worst) / (best - worst), "o-", label="worst..best")
    bx.plot(mean.index, (mean - naive) / (best - naive), "s:", label="naive..full")
    bx.plot([at], [target], "k*", ms=12, label="published")
    bx.set(xlabel="contributing fraction f", ylabel="normalised performance")
    bx.legend()
    table = pd.DataFrame({"fraction": fractions, "published": pub,
                          "obtained": [c[0] for c in cis], "low": [c[1] for c in cis],
                          "high": [c[2] for c in cis]})  # fmt: skip
    return _result(
        exp, norm, ablate,
        published=f"normalised between the worst and best observed, at f={at}: {target}; accuracy "
        f"{_fmt(pub)} at "
        f"f={_fmt(fractions, 2)}",
        obtained=f"normalised {_iv(norm, 2)}; accuracy {_fmt([c[0] for c in cis])} "
        f"(naive..full normalisation {_iv(norm_naive, 2)})",
        tolerance=f"normalised: {target} within {norm_tol} of the interval; accuracies "
        f"within {exp.tolerance}",
        passed=bool(passed), table=table, figure=fig,
    )  # fmt: skip


# ----------------------------------------------------------- 3. strike vs CDC asymmetry


@_experiment
def strike_vs_cdc(exp: Experiment, ablate: bool) -> Result:
    """Normalised effect of a strike and of CDC by the same fraction, per task.

    Effects are shares of the range between the worst (the competitor at the smallest
    fraction) and best (the incumbent with all data) accuracy observed on the task, both
    pooled over splits as the paper fixes one range per task; the interval is over splits.
    At the paper's fraction (0.1) on every task the strike's interval must meet the
    published range [low, high + tol] (so an effect of exactly zero fails), CDC's must
    meet [low - tol, high + tol], and CDC minus strike must be above zero at 95%. On
    breast_cancer at f = 0.2 the published pair (0.03 vs 0.75) must lie within the
    tolerance of the intervals.
    """
    at = float(exp.param("fraction", 0.1))
    lo_s, hi_s = exp.published["strike_low"], exp.published["strike_high"]
    lo_c, hi_c = exp.published["cdc_low"], exp.published["cdc_high"]
    tol = exp.tolerance
    tasks = exp.param("tasks", exp.all_tasks)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    rows = [row for name in tasks for row in _strike_cdc_rows(exp, name, at, ablate)]
    table = pd.DataFrame(rows)
    fig = _strike_cdc_figure(exp, table, at)
    obtained = "; ".join(
        f"{r.task} f={r.fraction}: strike {r.strike:.3f} [{r.strike_low:.3f}, "
        f"{r.strike_high:.3f}] vs CDC {r.cdc:.2f} [{r.cdc_low:.2f}, {r.cdc_high:.2f}]"
        for r in table.itertuples()
    )
    head = (table.strike[0], table.strike_low[0], table.strike_high[0], table.seeds[0])
    return _result(
        exp, head, ablate,
        published=f"f={at}: strike {lo_s}-{hi_s} vs CDC {lo_c}-{hi_c} of the range; "
        f"breast_cancer f=0.2: strike {exp.published['bc_strike_0.2']} vs CDC "
        f"{exp.published['bc_cdc_0.2']}",
        obtained=obtained,
        tolerance=f"f={at}: strike interval meets [{lo_s}, {hi_s + tol}], CDC's meets "
        f"[{lo_c - tol}, {hi_c + tol}]; f=0.2 pair within {tol}; CDC - strike > 0 (95%)",
        passed=bool(table.passed.all()), table=table, figure=fig,
    )  # fmt: skip


def _strike_cdc_rows(exp: Experiment, name: str, at: float, ablate: bool) -> list[dict]:
    """Strike and CDC effects on one task at the paper's fractions, each with its check.

    Numerators are paired within a split; the range (denominator) is one per task.
    """
    lo_s, hi_s = exp.published["strike_low"], exp.published["strike_high"]
    lo_c, hi_c = exp.published["cdc_low"], exp.published["cdc_high"]
    tol = exp.tolerance
    strike, cdc = _curve_table(exp, name, ablate)
    sq, cq = _per_split(strike), _per_split(cdc)
    worst_split, best_split = cq[cq.columns.min()], strike.groupby("split").full.mean()
    worst, best = float(worst_split.mean()), float(best_split.mean())
    points = [at] + ([0.2] if name == "breast_cancer" and 0.2 in sq.columns else [])
    rows = []
    for f in points:
        s_eff = (best_split - sq[f]) / (best - worst)
        c_eff = (cq[f] - worst_split) / (best - worst)
        s, c, d = interval(s_eff), interval(c_eff), interval(c_eff - s_eff)
        if f == at:
            ok = (s[1] <= hi_s + tol and s[2] >= lo_s and c[1] <= hi_c + tol
                  and c[2] >= lo_c - tol and _above(d))  # fmt: skip
        else:  # breast_cancer, f = 0.2: strike 0.03 vs CDC 0.75
            ok = (_near(exp.published["bc_strike_0.2"], s, tol)
                  and _near(exp.published["bc_cdc_0.2"], c, tol) and _above(d))  # fmt: skip
        rows.append({"task": name, "fraction": f, "strike": s[0], "strike_low": s[1],
                     "strike_high": s[2], "seeds": s[3], "cdc": c[0], "cdc_low": c[1],
                     "cdc_high": c[2], "cdc_minus_strike_low": d[1], "passed": ok})  # fmt: skip
    return rows


def _strike_cdc_figure(exp: Experiment, table: pd.DataFrame, at: float) -> plt.Figure:
    fig, (ax,) = _figure(exp.title, width=6.5)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table.strike, 0.4, yerr=[table.strike - table.strike_low,
           table.strike_high - table.strike], label="strike")  # fmt: skip
    ax.bar(x + 0.2, table.cdc, 0.4, yerr=[table.cdc - table.cdc_low, table.cdc_high - table.cdc],
           label="CDC")  # fmt: skip
    p = exp.published
    ax.axhspan(p["cdc_low"], p["cdc_high"], color="C1", alpha=0.1,
               label=f"published CDC range, f={at}")  # fmt: skip
    ax.axhspan(p["strike_low"], p["strike_high"], color="C0", alpha=0.15,
               label=f"published strike range, f={at}")  # fmt: skip
    ax.set_xticks(x, [f"{r.task}\nf={r.fraction}" for r in table.itertuples()])
    ax.set(ylabel="share of the worst..best range")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------- 4. normalisation


@_experiment
def raw_vs_normalised(exp: Experiment, ablate: bool) -> Result:
    """Raters strike: share of the personalisation gap removed, overall and per cohort.

    The paper scores everyone's held-out ratings. Here the loss is also computed for each
    cohort separately (strikers' own test ratings, everyone else's), each against its own
    full-data and item-mean baselines, so the docs can show how much of the overall
    number is the strikers becoming cold-start users.
    """
    table = pd.DataFrame(
        [row for i, s in enumerate(_seeds(exp.seed, exp.splits))
         for row in _rating_strike_rows(exp, i, s, ablate)]
    )  # fmt: skip
    per = table.groupby(["split", "fraction"]).mean(numeric_only=True).reset_index()
    fr = sorted(table.fraction.unique())
    pub = _published(exp, fr)
    cis = {c: [interval(per[per.fraction == f][c]) for f in fr]
           for c in ("gap_all", "gap_strikers", "gap_others", "raw", "striker_share")}  # fmt: skip
    near = all(_near(p, ci, exp.tolerance) for p, ci in zip(pub, cis["gap_all"], strict=True))
    others_hurt = _above(cis["gap_others"][-1])
    min_ratio = float(exp.param("min_ratio", 5.0))
    ratio = min(a[0] / r[0] if r[0] > 0 else 0.0 for a, r in zip(cis["gap_all"], cis["raw"],
                                                                 strict=True))  # fmt: skip
    passed = near and others_hurt and ratio >= min_ratio
    m = {c: np.array([ci[0] for ci in v]) for c, v in cis.items()}
    fig, (ax,) = _figure(exp.title)
    ax.plot(fr, pub, "ks--", label="published (ML-20M, share of gap)")
    ax.plot(fr, m["gap_all"], "o-", label="obtained: everyone's ratings")
    ax.plot(fr, m["gap_strikers"], "v:", label="strikers' own ratings")
    ax.plot(fr, m["gap_others"], "^:", label="everyone else's ratings")
    ax.plot(fr, m["raw"], "x-", label="raw relative loss (everyone)")
    ax.set(xlabel="share of raters striking", ylabel="share of the gap removed")
    ax.legend(fontsize=8)
    summary = pd.DataFrame({"fraction": fr, "published": pub, **m,
                            "gap_all_low": [c[1] for c in cis["gap_all"]],
                            "gap_all_high": [c[2] for c in cis["gap_all"]],
                            "gap_others_low": [c[1] for c in cis["gap_others"]],
                            "gap_others_high": [c[2] for c in cis["gap_others"]]})  # fmt: skip
    return _result(
        exp, cis["gap_all"][-1], ablate,
        published=f"gap removed at f={_fmt(fr, 1)}: {_fmt(pub, 2)}; raw effects small",
        obtained=f"f={fr[-1]}: {_iv(cis['gap_all'][-1], 2)}; all {_fmt(m['gap_all'], 2)}; "
        f"strikers' own {_fmt(m['gap_strikers'], 2)}; others "
        f"{' '.join(_iv(c, 3) for c in cis['gap_others'])}; raw {_fmt(m['raw'], 3)}",
        tolerance=f"published within {exp.tolerance} of each interval; others' loss at "
        f"f={fr[-1]} > 0 (95%); normalised/raw >= {min_ratio}",
        passed=bool(passed), table=summary, figure=fig,
    )  # fmt: skip


def _rating_strike_rows(exp: Experiment, split: int, seed: int, ablate: bool) -> list[dict]:
    """One split: whole raters strike; the gap lost overall and per cohort, per replicate."""
    task = load_task("ratings", rng=np.random.default_rng(seed),
                     n_samples=int(exp.param("n_ratings", 20000)))  # fmt: skip
    rng = np.random.default_rng(seed + 1)
    full = make_learner(exp.learner, task).fit(task.X_train, task.y_train, rng)
    naive = naive_learner_for(task).fit(task.X_train, task.y_train, rng)
    rows = []
    for f in exp.fractions:
        for r in range(exp.replicates):
            strikers = rng.permutation(task.n_raters)[: int(round(f * task.n_raters))]
            keep = ~np.isin(task.X_train[:, 0], strikers)
            if ablate:
                keep[:] = True
            model = make_learner(exp.learner, task)
            model.fit(task.X_train[keep], task.y_train[keep], rng)
            struck = np.isin(task.X_test[:, 0], strikers)
            row = {"split": split, "replicate": r, "fraction": f,
                   "striker_share": float(struck.mean())}  # fmt: skip
            for cohort, mask in (("all", np.ones_like(struck)), ("strikers", struck),
                                 ("others", ~struck)):  # fmt: skip
                X, y = task.X_test[mask], task.y_test[mask]
                q, qf, qn = model.score(X, y), full.score(X, y), naive.score(X, y)
                row[f"gap_{cohort}"] = float(1 - normalise(q, qn, qf))
                if cohort == "all":
                    row["raw"] = float((qf - q) / qf)
            rows.append(row)
    return rows


# --------------------------------------------------------------- 5. larger is robust


def _same_task_sizes(seed: int, sizes: list[int], n_test: int) -> list[Task]:
    """Training sets of several sizes drawn from one synthetic distribution.

    One ``make_classification`` problem per seed (so the difficulty is the same); every
    size shares one held-out set, and a smaller training set is a subset of a larger one.
    """
    total = max(sizes) + n_test
    big = load_task("synthetic", rng=np.random.default_rng(seed), n_samples=total,
                    test_size=n_test / total)  # fmt: skip
    order = np.random.default_rng(seed + 1).permutation(big.n_train)
    return [dataclasses.replace(big, X_train=big.X_train[order[:n]],
                                y_train=big.y_train[order[:n]]) for n in sizes]  # fmt: skip


@_experiment
def larger_is_robust(exp: Experiment, ablate: bool) -> Result:
    """The same 30% strike on training sets of one distribution at increasing size."""
    at = float(exp.param("fraction", 0.3))
    sizes = [int(n) for n in exp.param("sizes", [200, 800, 3200])]
    n_test = int(exp.param("n_test", 4000))
    rows = []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        for n, task in zip(sizes, _same_task_sizes(s, sizes, n_test), strict=True):
            strike = strike_curve(task, [at], np.random.default_rng(s + n), exp.replicates)
            effect = 0.0 if ablate else float(1 - strike.normalised.mean())
            rows.append({"split": i, "n_train": n, "effect": effect})
    table = pd.DataFrame(rows)
    per = table.pivot(index="split", columns="n_train", values="effect")
    cis = [interval(per[n]) for n in sizes]
    # The paper compares two sizes (ML-1M and ML-20M); the smallest size must lose more
    # than every larger one at 95%. Orderings among the larger sizes are reported, and
    # called inconclusive when their interval straddles zero.
    diffs = {(a, b): interval(per[a] - per[b]) for i, a in enumerate(sizes) for b in sizes[i + 1 :]}
    ok = all(_above(diffs[(sizes[0], b)]) for b in sizes[1:])
    inconclusive = [f"{a} vs {b}" for (a, b), d in diffs.items() if not _above(d)]
    fig, (ax,) = _figure(exp.title)
    ax.errorbar(sizes, [c[0] for c in cis], yerr=[[c[0] - c[1] for c in cis],
                [c[2] - c[0] for c in cis]], fmt="o-", label=f"strike f={at} (95% CI)")  # fmt: skip
    ax.set(xscale="log", xlabel="training rows (same distribution)",
           ylabel="share of the gap removed")  # fmt: skip
    ax.legend()
    out = pd.DataFrame({"n_train": sizes, "effect": [c[0] for c in cis],
                        "low": [c[1] for c in cis], "high": [c[2] for c in cis]})  # fmt: skip
    head = diffs[(sizes[0], sizes[-1])]
    return _result(
        exp, head, ablate,
        obtained=f"smallest minus largest {_iv(head)}; f={at}: "
        + ", ".join(f"n={n} {_iv(c)}" for n, c in zip(sizes, cis, strict=True))
        + (f"; inconclusive: {', '.join(inconclusive)}" if inconclusive else ""),
        passed=ok, table=out, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------- 6. group strike


GROUP_STRIKE_SEEDS = 12
GROUP_STRIKE_SEEDS_FAST = 6


@lru_cache(maxsize=64)
def _group_quality(scenario_json: str, seed: int) -> pd.DataFrame:
    """Per-group quality of one run (cached: the ablated run reuses the control arm)."""
    from abm.runner import simulate

    return simulate(Scenario.model_validate_json(scenario_json), seed=seed).groups


def group_strike(path: Path, fast: bool, ablate: bool = False) -> Result:
    """One group (whose data favours one class) strikes: whose quality falls most?"""
    spec = load_scenario(path)
    group = spec.collectives[0].group
    control = spec.model_copy(update={"collectives": [], "name": f"{spec.name}_control"})
    arms = (("strike", control if ablate else spec), ("control", control))
    n = GROUP_STRIKE_SEEDS_FAST if fast else GROUP_STRIKE_SEEDS
    rows = []
    for s in _seeds(spec.seed, n):
        for arm, scenario in arms:
            g = _group_quality(scenario.model_dump_json(), s)
            last = g[(g.step == g.step.max()) & (g.platform == spec.collectives[0].target)]
            rows += [{"seed": s, "arm": arm, "group": int(r.group), "quality": r.quality}
                     for r in last.itertuples()]  # fmt: skip
    per = pd.DataFrame(rows).pivot_table(index=["seed", "group"], columns="arm",
                                         values="quality")  # fmt: skip
    drop = (per.control - per.strike).unstack("group")
    own = interval(drop[group])
    margin = interval(drop[group] - drop.drop(columns=group).max(axis=1))
    table = pd.DataFrame({"group": drop.columns, "drop": drop.mean().values})
    fig, (ax,) = _figure(spec.question or spec.name)
    ax.bar(table.group, table["drop"], color=["C3" if g == group else "C0" for g in table.group])
    ax.set(xlabel="user group", ylabel="quality lost vs the same seeds without a strike")
    return _result(
        _About("group_strike", "A homogeneous group's strike hurts that group most",
               "directional"), margin, ablate,
        published="strikes by a homogeneous group hurt that group most",
        obtained=f"striking group's loss minus the largest other group's {_iv(margin)}; its "
        f"own loss {_iv(own)}",
        tolerance="that margin > 0 (95%)",
        passed=_above(margin) and _above(own), table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------------ strike plus CDC


STRIKE_CDC_SEEDS, STRIKE_CDC_SEEDS_FAST = 64, 4
STRIKE_CDC_LEVERS = ("strike", "cdc", "strike_cdc")


@lru_cache(maxsize=64)
def _gap_closed(scenario_json: str, seed: int) -> float:
    """Incumbent's quality effect plus the challenger's lift against the twin world."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    if not spec.collectives:  # an empty campaign's twin is the real world: no effect
        return 0.0
    name = spec.collectives[0].name
    out = simulate(spec, seed=seed).outcomes
    lift = out.get(f"lift[{name}]", 0.0)
    return float(out[f"quality_effect[{name}]"] + (lift if np.isfinite(lift) else 0.0))


def strike_plus_cdc(path: Path, fast: bool, ablate: bool = False) -> Result:
    """The same collective strikes, contributes (CDC), or both: which closes most gap?

    Effects come from the model's twin worlds (same seed, the collective acting as
    ordinary users): the incumbent's quality effect (twin minus real) plus the
    challenger's lift (real minus twin), averaged while the campaign runs. Both must
    beat each lever alone, paired by seed, at 95%. Ablated, the collective does not act.
    """
    spec = load_scenario(path)
    base = spec.collectives[0]
    n = STRIKE_CDC_SEEDS_FAST if fast else STRIKE_CDC_SEEDS
    rows = []
    for s in _seeds(spec.seed, n):
        row = {"seed": s}
        for lever in STRIKE_CDC_LEVERS:
            c = base.model_copy(update={"lever": Lever(lever)})
            variant = spec.model_copy(update={"collectives": [] if ablate else [c]})
            row[lever] = _gap_closed(variant.model_dump_json(), s)
        rows.append(row)
    table = pd.DataFrame(rows)
    vs_cdc = interval(table.strike_cdc - table.cdc)
    vs_strike = interval(table.strike_cdc - table.strike)
    cis = {lever: interval(table[lever]) for lever in STRIKE_CDC_LEVERS}
    fig, (ax,) = _figure(spec.question or spec.name)
    means = [c[0] for c in cis.values()]
    errors = [[c[0] - c[1] for c in cis.values()], [c[2] - c[0] for c in cis.values()]]
    ax.bar(list(cis), means, yerr=errors)
    ax.set(ylabel="gap closed: incumbent's quality effect + challenger's lift")
    return _result(
        _About("strike_plus_cdc", "Strike plus CDC is the strongest lever", "directional"),
        vs_cdc, ablate,
        published="strike plus CDC together is the strongest lever (vs CDC alone, strike alone)",
        obtained=f"both minus CDC alone {_iv(vs_cdc)}; both minus strike alone "
        f"{_iv(vs_strike)}; gap closed: "
        + ", ".join(f"{k} {_iv(v)}" for k, v in cis.items()),
        tolerance="both differences > 0 (95%)",
        passed=_above(vs_cdc) and _above(vs_strike), table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------- 7-9. algorithmic collective action


_CLEAN: dict[tuple, object] = {}


def _signal_success(
    task: Task, alpha: float, trigger: levers.Trigger, target: int, seed: int,
    rival: tuple[float, int] | None = None, **plant: object,
) -> tuple[float, float | None]:  # fmt: skip
    """Train on data where a random alpha-share collective planted; return success.

    With ``rival = (alpha2, target2)`` a second collective plants the same trigger with
    another target on different rows; its success is returned second.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(task.n_train)
    n = int(round(alpha * task.n_train))
    if n == 0 and rival is None:  # nothing planted: the clean model, the same for any trigger
        key = (task.n_train, float(task.X_train.sum()), seed)
        if key not in _CLEAN:
            _CLEAN[key] = make_learner("logistic", task).fit(task.X_train, task.y_train, rng)
        return levers.signal_success(_CLEAN[key].predict, task.X_test, task.y_test, trigger,
                                     target), None  # fmt: skip
    X, y = task.X_train.copy(), task.y_train.copy()
    members = order[:n]
    if n:
        X[members], y[members], _ = levers.plant_signal(X[members], y[members], trigger, target,
                                                        rng, **plant)  # fmt: skip
    if rival is not None:
        others = order[n : n + int(round(rival[0] * task.n_train))]
        X[others], y[others], _ = levers.plant_signal(X[others], y[others], trigger, rival[1], rng)
    model = make_learner("logistic", task).fit(X, y, rng)
    first = levers.signal_success(model.predict, task.X_test, task.y_test, trigger, target)
    if rival is None:
        return first, None
    return first, levers.signal_success(model.predict, task.X_test, task.y_test, trigger, rival[1])


def _success_by_seed(exp: Experiment, alpha: float, trigger, target: int, **kw) -> np.ndarray:
    """Success per (split, replicate): one value per independent seed."""
    values = []
    for s in _seeds(exp.seed, exp.splits):
        task = _digits01(s)
        for r in range(exp.replicates):
            values.append(_signal_success(task, alpha, trigger(task), target, s + 7 * r, **kw)[0])
    return np.array(values)


def _trigger(n_pixels: int, rare: bool) -> Callable[[Task], levers.Trigger]:
    return lambda task: levers.choose_trigger(task.X_train, n_pixels, rare=rare)


@_experiment
def signal_planting(exp: Experiment, ablate: bool) -> Result:
    """Success against alpha; rare vs common trigger; feature-label vs feature-only."""
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    rare, common = _trigger(px, True), _trigger(px, False)
    on = 0.0 if ablate else 1.0  # ablated: the collective plants nothing

    def success(alpha, trig, tgt, **kw):
        return _success_by_seed(exp, alpha * on, trig, tgt, **kw)

    rare_s = {a: success(a, rare, target) for a in exp.fractions}
    common_s = {a: success(a, common, target) for a in exp.fractions}
    a_fo = float(exp.param("feature_only_alpha", 0.02))
    fo_target = int(exp.param("feature_only_target", 8))
    label = success(a_fo, rare, fo_target)
    feature_only = success(a_fo, rare, fo_target, feature_only=True)
    a_cmp = float(exp.param("compare_alpha", 0.02))
    low, high = interval(rare_s[exp.fractions[0]]), interval(rare_s[exp.fractions[-1]])
    rare_vs_common = interval(rare_s[a_cmp] - common_s[a_cmp])
    label_vs_fo = interval(label - feature_only)
    margin = exp.tolerance
    ok = (low[0] < 0.2 and high[0] > 0.8 and _above(interval(rare_s[exp.fractions[-1]]
          - rare_s[exp.fractions[0]])) and _above(rare_vs_common, margin)
          and _above(label_vs_fo, margin))  # fmt: skip
    table = pd.DataFrame({"alpha": exp.fractions,
                          "rare": [rare_s[a].mean() for a in exp.fractions],
                          "common": [common_s[a].mean() for a in exp.fractions]})  # fmt: skip
    above = table.alpha[table.rare >= 0.5]
    critical = float(above.iloc[0]) if len(above) else float("nan")
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.plot(table.alpha, table.rare, "o-", label="rare trigger pixels")
    ax.plot(table.alpha, table.common, "s-", label="common trigger pixels")
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set(xscale="log", xlabel="collective size alpha", ylabel="success S(alpha)")
    ax.legend()
    bx.bar(["feature-label", "feature-only"], [label.mean(), feature_only.mean()])
    bx.set(ylabel=f"success at alpha={a_fo}, target {fo_target}")
    return _result(
        exp, high, ablate,
        obtained=f"S={_iv(high, 2)} at alpha={exp.fractions[-1]}, {_iv(low, 2)} at "
        f"{exp.fractions[0]} (S>=0.5 from alpha={critical}); at {a_cmp}: rare - common "
        f"{_iv(rare_vs_common, 2)}; feature-label - feature-only {_iv(label_vs_fo, 2)}",
        passed=bool(ok),
        table=table.assign(feature_label=label.mean(), feature_only=feature_only.mean()),
        figure=fig,
    )  # fmt: skip


@_experiment
def conflicting_collectives(exp: Experiment, ablate: bool) -> Result:
    """Two collectives plant the same trigger with different targets.

    Ablated, the rival never acts (one collective instead of two), so "with the rival"
    is the collective alone.
    """
    px = int(exp.param("pixels", 4))
    alpha = float(exp.param("alpha", 0.01))
    raw = pd.DataFrame(_conflict_rows(exp, px, alpha, ablate))
    raw["loss"] = raw.alone - raw.with_rival  # success lost, in success points
    raw["rival_loss"] = raw.rival_alone - raw.rival_with
    table = raw.groupby("rival_alpha").mean(numeric_only=True).reset_index()
    table["loss_share"] = 1 - table.with_rival / table.alone
    table["rival_loss_share"] = 1 - table.rival_with / table.rival_alone
    same_alpha = float(table.rival_alpha.iloc[(table.rival_alpha - alpha).abs().argmin()])
    same = raw[raw.rival_alpha == same_alpha]
    share = float(table.set_index("rival_alpha").loss_share[same_alpha])
    rival_share = float(table.set_index("rival_alpha").rival_loss_share[same_alpha])
    loss, rival_loss = interval(same.loss), interval(same.rival_loss)
    first, last = exp.fractions[0], exp.fractions[-1]
    grows = interval(raw[raw.rival_alpha == last].loss.values
                     - raw[raw.rival_alpha == first].loss.values)  # fmt: skip
    tol = exp.tolerance
    ok = (share >= tol and rival_share >= tol and _above(loss) and _above(rival_loss)
          and _above(grows))  # fmt: skip
    fig, (ax,) = _figure(exp.title)
    ax.plot(table.rival_alpha, table.alone, "k--", label=f"collective (alpha={alpha}) alone")
    ax.plot(table.rival_alpha, table.with_rival, "o-", label="with the rival acting")
    ax.plot(table.rival_alpha, table.loss_share, "s:", label="share of success lost")
    ax.axhline(exp.published["max_loss"], color="grey", lw=0.6, label="published: up to 0.75")
    ax.set(xlabel="rival collective's size", ylabel="success / loss")
    ax.legend(fontsize=8)
    return _result(
        exp, loss, ablate,
        obtained=f"equal sizes: success lost {_iv(loss, 2)} (share {share:.2f}), rival "
        f"{_iv(rival_loss, 2)} (share {rival_share:.2f}); loss grows with the rival's size "
        f"by {_iv(grows, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


def _conflict_rows(exp: Experiment, px: int, alpha: float, ablate: bool) -> list[dict]:
    """Each seed and rival size: both collectives' success alone and acting together."""
    t0, t1 = int(exp.param("target", 0)), int(exp.param("rival_target", 1))
    rows = []
    for rival_alpha in exp.fractions:
        for s in _seeds(exp.seed, exp.splits):
            task = _digits01(s)
            trig = levers.choose_trigger(task.X_train, px, rare=True)
            for r in range(exp.replicates):
                seed = s + 7 * r
                a0 = _signal_success(task, alpha, trig, t0, seed)[0]
                a1 = _signal_success(task, rival_alpha, trig, t1, seed + 1)[0]
                if ablate:
                    b0, b1 = a0, a1
                else:
                    b0, b1 = _signal_success(task, alpha, trig, t0, seed,
                                             rival=(rival_alpha, t1))  # fmt: skip
                rows.append({"rival_alpha": rival_alpha, "seed": seed, "alone": a0,
                             "with_rival": b0, "rival_alone": a1, "rival_with": b1})  # fmt: skip
    return rows


def _taste_members(
    taste: np.ndarray, n: int, homogeneity: float, rng: np.random.Generator, exclude: np.ndarray
) -> np.ndarray:
    """``n`` raters: a ``homogeneity`` share are the nearest in taste to a random anchor.

    Taste is a rater's latent factor vector in the full-data model (cosine similarity);
    the rest of the members are drawn at random, so 0 is a fully heterogeneous and 1 a
    fully homogeneous collective. Raters in ``exclude`` (the rival) are never drawn.
    """
    pool = np.setdiff1d(np.arange(len(taste)), exclude)
    unit = taste / np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)
    anchor = rng.choice(pool)
    near = pool[
        np.argsort(-(unit[pool] @ unit[anchor]), kind="stable")[: int(round(homogeneity * n))]
    ]
    rest = rng.permutation(np.setdiff1d(pool, near))[: n - len(near)]
    return np.concatenate([near, rest])


def _promotion_success(
    task: Task, members: np.ndarray, rival: np.ndarray, items: tuple[int, int], top_k: int,
    seed: int,
) -> float:  # fmt: skip
    """Share of the other raters whose top ``top_k`` predictions include the promoted item.

    Every member rates the collective's item (``items[0]``) at the top of the scale; every
    rival member does the same for the rival's item (``items[1]``), which competes for the
    same slots. The recommender (matrix factorisation) is refitted on the altered data.
    """
    top = task.rating_range[1]
    add = np.vstack([np.column_stack([members, np.full(len(members), items[0])]),
                     np.column_stack([rival, np.full(len(rival), items[1])])])  # fmt: skip
    X = np.vstack([task.X_train, add])
    y = np.concatenate([task.y_train, np.full(len(add), top)])
    model = make_learner("mf", task).fit(X, y, np.random.default_rng(seed))
    others = np.setdiff1d(np.arange(task.n_raters), np.concatenate([members, rival]))
    grid = np.column_stack([np.repeat(others, task.n_items),
                            np.tile(np.arange(task.n_items), len(others))])  # fmt: skip
    scores = model.predict(grid).reshape(len(others), task.n_items)
    return float(((scores > scores[:, [items[0]]]).sum(axis=1) < top_k).mean())


def _homogeneity_rows(exp: Experiment, ablate: bool) -> pd.DataFrame:
    """Per seed: success at size alpha and 2 alpha (alpha when ablated), per homogeneity."""
    levels = [float(h) for h in exp.param("homogeneity", [0.0, 0.25, 0.5, 1.0])]
    alpha, top_k = float(exp.param("alpha", 0.1)), int(exp.param("top_k", 20))
    rows = []
    for s in _seeds(exp.seed, exp.splits):
        task = load_task("ratings", rng=np.random.default_rng(s),
                         n_samples=int(exp.param("n_ratings", 20000)))  # fmt: skip
        full = make_learner("mf", task).fit(
            task.X_train, task.y_train, np.random.default_rng(s + 1)
        )
        order = np.argsort(full.bi, kind="stable")  # items by learned popularity
        at = int(float(exp.param("item_quantile", 0.75)) * (len(order) - 1))
        items = (int(order[at]), int(order[at + 1]))  # two items of similar standing
        n_rival = int(round(float(exp.param("rival_alpha", 0.1)) * task.n_raters))
        rival = np.random.default_rng(s + 2).choice(task.n_raters, n_rival, replace=False)
        n = int(round(alpha * task.n_raters))
        for size, label in ((n, "alpha"), (n if ablate else 2 * n, "double")):
            for h in levels:
                members = _taste_members(full.P, size, h, np.random.default_rng(s + 3), rival)
                won = _promotion_success(task, members, rival, items, top_k, s + 4)
                rows.append({"seed": s, "size": label, "homogeneity": h, "success": won})
    return pd.DataFrame(rows)


@_experiment
def size_vs_homogeneity(exp: Experiment, ablate: bool) -> Result:
    """Recommender collectives: does doubling size matter more than homogeneity?

    Karan et al.'s recommender setting: a collective promotes an item by rating it at the
    top while a rival promotes another item of similar standing. Members are raters whose
    tastes are from fully heterogeneous (random) to fully homogeneous (the nearest in
    taste to one rater). The size effect (success at 2 alpha minus at alpha, averaged
    over the homogeneity levels) must exceed the homogeneity effect (the spread, max minus
    min, of success across the levels at alpha), paired by seed, at 95%. Ablated, the
    collective's size does not change, so only homogeneity is left to matter.
    """
    raw = _homogeneity_rows(exp, ablate)
    per = raw.pivot_table(index="seed", columns=["size", "homogeneity"], values="success")
    size_effect = (per["double"] - per["alpha"]).mean(axis=1)
    spread = per["alpha"].max(axis=1) - per["alpha"].min(axis=1)
    margin = interval(size_effect - spread)
    table = raw.groupby(["size", "homogeneity"]).success.mean().unstack("size").reset_index()
    fig, (ax,) = _figure(exp.title)
    for label, style in (("alpha", "o-"), ("double", "s--")):
        ax.plot(table.homogeneity, table[label], style, label=f"size {label}")
    ax.set(xlabel="homogeneity (share of members nearest in taste)",
           ylabel=f"others with the item in their top {exp.param('top_k', 20)}")  # fmt: skip
    ax.legend()
    best = float(table.homogeneity[table["alpha"].idxmax()])
    return _result(
        exp, margin, ablate,
        obtained=f"size effect minus homogeneity spread {_iv(margin, 2)}; size effect "
        f"{_iv(interval(size_effect), 2)}; spread across homogeneity {_iv(interval(spread), 2)}; "
        f"success at alpha by homogeneity {_fmt(table['alpha'], 2)} (best at {best})",
        passed=_above(margin), table=table, figure=fig,
    )  # fmt: skip


@_experiment
def coordination_noise(exp: Experiment, ablate: bool) -> Result:
    """Members misapply the signal with probability ``noise``."""
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    alpha = float(exp.param("alpha", 0.005))
    noises = [float(v) for v in exp.param("noise", [0.0, 0.3, 0.6, 0.9])]
    exact = _success_by_seed(exp, alpha, _trigger(px, True), target, noise=0.0)
    per = {n: exact if ablate or n == 0.0 else _success_by_seed(
        exp, alpha, _trigger(px, True), target, noise=n) for n in noises}  # fmt: skip
    drop = interval(per[noises[0]] - per[noises[-1]])
    table = pd.DataFrame({"noise": noises, "success": [per[n].mean() for n in noises]})
    ok = drop[0] >= exp.tolerance and _above(drop)
    fig, (ax,) = _figure(exp.title)
    ax.plot(table.noise, table.success, "o-")
    ax.set(xlabel="coordination noise (share misapplying)", ylabel=f"success at alpha={alpha}")
    return _result(
        exp, drop, ablate,
        obtained=f"fall from noise {noises[0]} to {noises[-1]}: {_iv(drop, 2)}; success "
        f"{_fmt(table.success, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


@_experiment
def backdoor(exp: Experiment, ablate: bool) -> Result:
    """A backdoor planted by a tiny share of rows: clean accuracy kept, triggered flipped.

    Per seed, the same split is fitted twice with the same generator: once clean, once
    with ``alpha`` of the training rows carrying the trigger and the target label. The
    clean-accuracy cost is the paired difference on the clean test set; success is the
    share of triggered test points of other classes labelled as the target. Ablated, no
    trigger is planted (the poisoned model is the clean one).
    """
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    alpha = 0.0 if ablate else float(exp.param("alpha", 0.01))
    rows = []
    for s in _seeds(exp.seed, exp.splits):
        task = _digits01(s)
        trig = levers.choose_trigger(task.X_train, px, rare=True)
        for r in range(exp.replicates):
            seed = s + 7 * r
            clean = make_learner("logistic", task).fit(task.X_train, task.y_train,
                                                       np.random.default_rng(seed))  # fmt: skip
            rng = np.random.default_rng(seed)
            members = rng.permutation(task.n_train)[: int(round(alpha * task.n_train))]
            X, y = task.X_train.copy(), task.y_train.copy()
            if len(members):
                X[members], y[members], _ = levers.plant_signal(X[members], y[members], trig,
                                                                target, rng)  # fmt: skip
            model = make_learner("logistic", task).fit(X, y, np.random.default_rng(seed))
            rows.append({"seed": seed, "poisoned_rows": len(members),
                         "clean_cost": clean.score(task.X_test, task.y_test)
                         - model.score(task.X_test, task.y_test),
                         "success": levers.signal_success(model.predict, task.X_test,
                                                          task.y_test, trig, target)})  # fmt: skip
    table = pd.DataFrame(rows)
    cost, success = interval(table.clean_cost), interval(table.success)
    tol = exp.tolerance
    min_success = exp.published["min_success"]
    ok = _near(0.0, cost, tol) and cost[2] <= tol and success[1] > min_success
    fig, (ax,) = _figure(exp.title)
    ax.scatter(table.clean_cost, table.success, s=14)
    ax.axvline(tol, color="grey", lw=0.8, label="one point of clean accuracy")
    ax.set(xlabel="clean accuracy lost", ylabel="triggered inputs flipped to the target")
    ax.legend(fontsize=8)
    rate = float(exp.param("alpha", 0.01))
    return _result(
        exp, cost, ablate,
        obtained=f"clean accuracy lost {_iv(cost)} at {rate:.1%} poisoned "
        f"({int(table.poisoned_rows.mean())} rows); triggered flipped {_iv(success, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------------------- 10-11. valuation


def _valuation_data(exp: Experiment, seed: int, n_train: int, n_test: int):
    task = _task(exp.task, seed, True, 0.25)
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


@_experiment
def knn_shapley_checks(exp: Experiment, ablate: bool) -> Result:
    """Efficiency, flipped labels valued lowest, and removal curves (per split)."""
    k = int(exp.param("k", 5))
    rows, removal = [], []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
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
    ok = per.efficiency.max() <= exp.tolerance and precision[0] >= min_precision and _above(gap)
    table = rem.groupby("removed")[["high_value_first", "random"]].mean().reset_index()
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.bar(per.split, per.precision)
    ax.axhline(min_precision, color="grey", lw=0.8)
    ax.set(xlabel="split", ylabel="share of the lowest-valued that are flipped")
    bx.plot(table.removed, table.high_value_first, "o-", label="highest value first")
    bx.plot(table.removed, table.random, "s--", label="random")
    bx.set(xlabel="share of training data removed", ylabel="KNN accuracy")
    bx.legend()
    return _result(
        exp, precision, ablate,
        obtained=f"share of the lowest-valued that are flipped {_iv(precision, 2)}; "
        f"max |sum - V(D)| = {per.efficiency.max():.1e}; at {exp.fractions[-1]:.0%} "
        f"removed, random minus high-first {_iv(gap, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


@_experiment
def tmc_vs_knn(exp: Experiment, ablate: bool) -> Result:
    """TMC-Shapley with the KNN utility on a small subset, against the exact values."""
    k = int(exp.param("k", 5))
    n_perm = int(exp.param("permutations", 200))
    rhos, pairs = [], []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
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
    fig, (ax,) = _figure(exp.title)
    ax.scatter(table.exact, table.tmc, s=12, c=table.split)
    ax.set(xlabel="KNN-Shapley (exact)", ylabel=f"TMC-Shapley ({n_perm} permutations)")
    ax.set_title(f"Spearman {rho[0]:.2f}", fontsize=9)
    return _result(
        exp, rho, ablate,
        obtained=f"Spearman {_iv(rho)} ({len(y)} points, {n_perm} permutations)",
        passed=_near(target, rho, exp.tolerance), table=table, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------------- 12. SISA


@_experiment
def sisa_unlearning(exp: Experiment, ablate: bool) -> Result:
    """K uniform deletions: samples retrained against S(1-(1-1/S)^K) shards; accuracy vs S.

    Rows are sharded by a hash of their contributor, so each contributor's shard is an
    independent uniform draw; deleting K distinct contributors at once retrains every
    shard they touched once. The retrained samples, divided by the mean shard size n/S,
    count shard-equivalents retrained; SISA's expectation is S(1-(1-1/S)^K). Ablated,
    every S trains one model on all rows.
    """
    shards = [int(s) for s in exp.param("shards", [1, 2, 5, 10])]
    deletions = int(exp.param("deletions", 10))
    users = int(exp.param("users", 200))
    rows = []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        task = _task(exp.task, s, True, 0.25)
        contributor = np.random.default_rng(s).integers(0, users, task.n_train)
        for S in shards:
            rng = np.random.default_rng(s + S)
            pool = DataPool()
            pool.add(np.arange(task.n_train), task.y_train, contributor, 0)
            trainer = ShardedTrainer(1 if ablate else S,
                                     lambda t=task: make_learner("logistic", t), rng)  # fmt: skip
            trainer.fit(pool, task.X_train, rng)
            acc = trainer.score(task.X_test, task.y_test)
            size = len(pool)
            who = rng.choice(np.unique(contributor), deletions, replace=False)
            trainer.delete(pool, task.X_train, rng, contributors=who)
            rows.append({"split": i, "shards": S, "accuracy": acc,
                         "shards_retrained": trainer.samples_retrained / (size / S),
                         "expected": S * (1 - (1 - 1 / S) ** deletions)})  # fmt: skip
    raw = pd.DataFrame(rows)
    tol = exp.tolerance
    cis = {S: interval(raw[raw.shards == S].shards_retrained) for S in shards}
    match = all(_near(S * (1 - (1 - 1 / S) ** deletions), cis[S], tol * max(1.0, S / 4))
                for S in shards)  # fmt: skip
    acc = raw.pivot(index="split", columns="shards", values="accuracy")
    falls = interval(acc[shards[0]] - acc[shards[-1]])
    table = raw.groupby("shards")[["accuracy", "shards_retrained", "expected"]].mean()
    big = shards[-1]
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.plot(table.index, table.expected, "ks--", label="S(1-(1-1/S)^K)")
    ax.plot(table.index, table.shards_retrained, "o-", label="obtained (retrained / (n/S))")
    ax.set(xscale="log", xlabel="shards S", ylabel=f"shards retrained for K={deletions}")
    ax.legend()
    bx.plot(table.index, table.accuracy, "o-")
    bx.set(xscale="log", xlabel="shards S", ylabel="held-out accuracy (vote)")
    return _result(
        exp, cis[big], ablate,
        published=f"K={deletions} uniform deletions retrain S(1-(1-1/S)^K) shards "
        f"({_fmt(table.expected, 2)} at S={_fmt(shards, 0)}); accuracy falls as S grows",
        obtained=f"S={big}: {_iv(cis[big], 2)} shards retrained; all "
        f"{_fmt(table.shards_retrained, 2)}; accuracy S={shards[0]} minus S={big} "
        f"{_iv(falls)}",
        passed=bool(match and _above(falls)), table=table.reset_index(), figure=fig,
    )  # fmt: skip


# --------------------------------------------------------------- 13. AI substitute


AI_PUBLISHED_MEAN = 0.16  # mean fall in weekly posts over the post-release period
AI_PUBLISHED_LATE = 0.25  # the fall about six months after the release
AI_TOLERANCE = 0.05
AI_WINDOW = 26  # weekly steps after the release (six months)
AI_PHASE_WEEKS = 4  # the first and the last month of the window, for the gap's growth
AI_SEEDS, AI_SEEDS_FAST = 10, 5
AI_BETTER = 0.05  # out of sample: a substitute this much better (a topic with more data)


def _ai_events(spec: Scenario) -> list[int]:
    """Indices of the ``ai_substitute`` events (the adoption curve, one per month)."""
    return [i for i, e in enumerate(spec.events) if e.action.value == "ai_substitute"]


def _ai_world(spec: Scenario, quality: float | None, seed: int) -> pd.DataFrame:
    """The model table with the substitute at ``quality`` (None: no substitute at all)."""
    from abm.runner import simulate

    ai = set(_ai_events(spec))
    events = [e if i not in ai else e.model_copy(update={"quality": quality})
              for i, e in enumerate(spec.events) if quality is not None or i not in ai]  # fmt: skip
    return simulate(spec.model_copy(update={"events": events}), seed=seed).model_table


def _ai_seed(spec: Scenario, seed: int, ablate: bool) -> dict:
    """One seed: the twin without the substitute, the world with it, and a better one.

    The substitute's quality is the commons' quality in the week before the release (read
    from the twin, whose past is the same world's). The weekly fall is one minus the
    commons' new data over the twin's, same seed; the paper's estimator (a difference in
    differences against the control platform inside the world) is kept beside it.
    """
    commons = spec.events[_ai_events(spec)[0]].platform
    control = next(p.name for p in spec.platforms if p.name != commons)
    at = spec.events[_ai_events(spec)[0]].at
    twin = _ai_world(spec, None, seed)
    parity = float(twin[f"quality[{commons}]"].loc[at - 1])
    world = twin if ablate else _ai_world(spec, parity, seed)
    better = twin if ablate else _ai_world(spec, min(parity + AI_BETTER, 1.0), seed)
    # The release at step ``at`` first shows in the table's row ``at + 1``.
    weeks = slice(at + 1, at + AI_WINDOW)
    new, base = world[f"new_data[{commons}]"].loc[weeks], twin[f"new_data[{commons}]"].loc[weeks]
    early = slice(at + 1, at + AI_PHASE_WEEKS)
    late = slice(at + AI_WINDOW - AI_PHASE_WEEKS + 1, at + AI_WINDOW)
    pre = slice(at - 9, at)
    did = (new.sum() / world[f"new_data[{control}]"].loc[weeks].sum()) / (
        world[f"new_data[{commons}]"].loc[pre].sum() / world[f"new_data[{control}]"].loc[pre].sum()
    )
    q = f"quality[{commons}]"
    return {
        "seed": seed, "parity_quality": parity,
        "fall_mean": 1.0 - new.sum() / base.sum(),
        "fall_first_month": 1.0 - new.loc[early].sum() / base.loc[early].sum(),
        "fall_six_months": 1.0 - new.loc[late].sum() / base.loc[late].sum(),
        "fall_better": 1.0 - better[f"new_data[{commons}]"].loc[weeks].sum() / base.sum(),
        "did_vs_control": 1.0 - did,
        "quality_effect": float((world[q].loc[weeks] - twin[q].loc[weeks]).mean()),
        "weekly": (1.0 - new / base).to_numpy(), "week": np.arange(1, AI_WINDOW + 1),
        "world": world, "twin": twin, "commons": commons,
    }  # fmt: skip


def _ai_figure(runs: list[dict], at: int) -> plt.Figure:
    """Weekly fall against the twin (mean and band over seeds) and one seed's flows."""
    fig, (ax, bx) = _figure("Contributions to the commons fall after an AI substitute appears", 2)
    weekly = np.array([r["weekly"] for r in runs])
    ax.plot(runs[0]["week"], weekly.mean(axis=0), label="simulated (mean over seeds)")
    low, high = np.percentile(weekly, [2.5, 97.5], axis=0)
    ax.fill_between(runs[0]["week"], low, high, alpha=0.2, label="seeds, 2.5-97.5%")
    ax.axhline(AI_PUBLISHED_MEAN, color="grey", ls="--", label="published mean (16%)")
    ax.plot([AI_WINDOW], [AI_PUBLISHED_LATE], "kx", label="published at six months (25%)")
    ax.set(xlabel="weeks after the release", ylabel="fall in weekly contributions vs twin")
    ax.legend(fontsize=8)
    name = runs[0]["commons"]
    for table, style, label in ((runs[0]["world"], "-", "with substitute"),
                                (runs[0]["twin"], "--", "twin without")):  # fmt: skip
        bx.plot(table.index, table[f"new_data[{name}]"].rolling(3, min_periods=1).mean(), style,
                label=label)  # fmt: skip
    bx.axvline(at, color="grey", lw=0.8)
    bx.set(xlabel="week", ylabel=f"new samples per week at {name} (3-week mean)")
    bx.legend(fontsize=8)
    return fig


def ai_substitute(path: Path, fast: bool, ablate: bool = False) -> Result:
    """The fall in weekly contributions against a twin without the substitute: size, shape.

    Nothing is calibrated: the adoption curve (``reach`` per month) is in the scenario
    file with its sources, and the substitute's quality is the commons' own in the week
    before the release. Checks: the mean fall over the 26 weeks after the release near
    16% and the fall in the last month near 25% (each published number within the
    tolerance of its interval over seeds), the gap growing (last month minus first month
    > 0 at 95%), and, out of sample, a better substitute drawing more away (paired > 0).
    Ablated, no substitute is released: the world is its twin and every fall is 0.
    """
    spec = load_scenario(path)
    if not _ai_events(spec):
        raise ValueError(f"{path}: events: an ai_substitute event")
    at = spec.events[_ai_events(spec)[0]].at
    if at < 10 or at + AI_WINDOW > spec.steps:
        raise ValueError(f"{path}: steps: at least {at + AI_WINDOW} (and the release at >= 10)")
    seeds = _seeds(spec.seed, AI_SEEDS_FAST if fast else AI_SEEDS)
    runs = [_ai_seed(spec, s, ablate) for s in seeds]
    table = pd.DataFrame([{k: v for k, v in r.items() if np.isscalar(v) and k != "commons"}
                          for r in runs])  # fmt: skip
    mean, late = interval(table.fall_mean), interval(table.fall_six_months)
    grows = interval(table.fall_six_months - table.fall_first_month)
    more = interval(table.fall_better - table.fall_mean)
    did, behind = interval(table.did_vs_control), interval(table.quality_effect)
    sized = _near(AI_PUBLISHED_MEAN, mean, AI_TOLERANCE) and _near(
        AI_PUBLISHED_LATE, late, AI_TOLERANCE
    )
    ok = sized and _above(grows) and _above(more)
    return _result(
        _About("ai_substitute", "An AI substitute drains a commons: size and shape of the decline",
               "quantitative"), mean, ablate,
        published=f"weekly posts fall {AI_PUBLISHED_MEAN:.0%} on average over the post period "
        f"(difference in differences), about {AI_PUBLISHED_LATE:.0%} six months after; the gap "
        "grows; larger where the substitute is better",
        obtained=f"vs twin, no parameter tuned: mean fall {_iv(mean)}; last month {_iv(late)}; "
        f"last minus first month {_iv(grows)}; a substitute {AI_BETTER} better: larger by "
        f"{_iv(more)}; within-world DiD vs control {_iv(did)}; commons' quality vs twin "
        f"{_iv(behind, 4)}",
        tolerance=f"{AI_PUBLISHED_MEAN} and {AI_PUBLISHED_LATE} each within {AI_TOLERANCE} of "
        "its interval; growth and the better substitute's extra fall > 0 (95%)",
        passed=bool(ok), table=table, figure=_ai_figure(runs, at),
    )  # fmt: skip


# ------------------------------------------------------------- 17. protest users


PROTEST_SEEDS, PROTEST_SEEDS_FAST = 8, 4
PROTEST_WEIGHTS, PROTEST_WEIGHTS_FAST = (0.1, 0.25, 0.5, 0.75, 1.0), (0.1, 1.0)


@lru_cache(maxsize=128)
def _boycott_share(scenario_json: str, seed: int) -> float:
    """Share of the collective's members boycotting, averaged while the campaign runs."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    c = spec.collectives[0]
    table = simulate(spec, seed=seed).model_table
    return float(table[f"turnout[{c.name}]"].iloc[c.start + 1 :].mean())


def _protest_world(spec: Scenario, weight: float, alternative: bool, ablate: bool) -> str:
    """The scenario at a tie weight, with or without the alternative platform (as JSON)."""
    pop = spec.population.model_copy(
        update={"network_weight": weight, "exit_cost_weight": 0.0 if ablate else 1.0}
    )
    target = spec.collectives[0].target
    alone = [p.model_copy(update={"initial_share": 1.0}) for p in spec.platforms
             if p.name == target]  # fmt: skip
    platforms = list(spec.platforms) if alternative else alone
    return spec.model_copy(update={"population": pop, "platforms": platforms}).model_dump_json()


def protest_users(path: Path, fast: bool, ablate: bool = False) -> Result:
    """The share of members who boycott, by tie weight and with or without an alternative.

    The scenario is rerun on the same seeds at several ``network_weight`` values (with the
    alternative platform) and, at the file's own weight, with the alternative removed
    (every user on the target). The share at the lowest weight minus the share at the
    highest, and with the alternative minus without it, must both be > 0 at 95%.
    Ablated, members ignore the cost of leaving (``exit_cost_weight`` 0).
    """
    spec = load_scenario(path)
    weights = PROTEST_WEIGHTS_FAST if fast else PROTEST_WEIGHTS
    base_w = spec.population.network_weight
    rows = []
    for s in _seeds(spec.seed, PROTEST_SEEDS_FAST if fast else PROTEST_SEEDS):
        row = {"seed": s, "no_alternative": _boycott_share(
            _protest_world(spec, base_w, False, ablate), s)}  # fmt: skip
        for w in sorted({*weights, base_w}):
            row[w] = _boycott_share(_protest_world(spec, w, True, ablate), s)
        rows.append(row)
    table = pd.DataFrame(rows)
    ties = interval(table[weights[0]] - table[weights[-1]])
    alt = interval(table[base_w] - table.no_alternative)
    cis = {w: interval(table[w]) for w in sorted({*weights, base_w})}
    fig, (ax,) = _figure("Protest users: who boycotts, by tie weight and alternative")
    ax.errorbar(list(cis), [c[0] for c in cis.values()], yerr=[[c[0] - c[1] for c in
                cis.values()], [c[2] - c[0] for c in cis.values()]], fmt="o-",
                label="with an alternative platform (95% CI)")  # fmt: skip
    none = interval(table.no_alternative)
    ax.errorbar([base_w], [none[0]], yerr=[[none[0] - none[1]], [none[2] - none[0]]], fmt="s",
                color="C3", label="no alternative platform")  # fmt: skip
    ax.set(xlabel="network_weight (utility of social ties)", ylabel="share of members boycotting")
    ax.legend(fontsize=8)
    return _result(
        _About("protest_users", "Protest users: ties and no alternative hold boycotters back",
               "directional"), ties, ablate,
        published="the share who boycott falls as the weight of social ties rises and when "
        "no alternative platform exists",
        obtained=f"share at weight {weights[0]} minus at {weights[-1]} {_iv(ties)}; with an "
        f"alternative minus without (weight {base_w}) {_iv(alt)}; share by weight: "
        + ", ".join(f"{w} {_iv(c)}" for w, c in cis.items()) + f"; no alternative {_iv(none)}",
        tolerance="both differences > 0 (95%)",
        passed=_above(ties) and _above(alt), table=table.rename(columns=str), figure=fig,
    )  # fmt: skip


# ------------------------------------------------------- 20. protest repertoires

REPERTOIRE_SEEDS = 20  # the fast mode too: a run takes well under a second
REPERTOIRE_WINDOW = 10  # last steps averaged: the campaign settles within 10 of its start
SURVEY_SHARE, SURVEY_N = 0.30, 463  # Li et al. (CSCW 2019): protesting at least one company
TACTICS = ("stopping", "withholding", "switching")  # the survey's order, most common first
# Other settings the order is rerun at (full mode): the assumed constants it rests on.
REPERTOIRE_SENSITIVITY = (
    ("protest.relief", 0.3), ("protest.relief", 0.5),
    ("population.switching_cost", 0.3), ("population.switching_cost", 0.7),
)  # fmt: skip


def wilson_interval(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a share ``p`` observed in a sample of ``n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@lru_cache(maxsize=256)
def _repertoire(scenario_json: str, seed: int) -> tuple[float, ...]:
    """The share of all users protesting, then by tactic, over the run's last steps."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    name = spec.collectives[0].name
    late = simulate(spec, seed=seed).model_table.iloc[-REPERTOIRE_WINDOW:]
    return tuple(float(late[f"{k}[{name}]"].mean()) for k in ("participation", *TACTICS))


def _repertoire_table(spec: Scenario, seeds: list[int]) -> pd.DataFrame:
    world = spec.model_dump_json()
    rows = [(s, *_repertoire(world, s)) for s in seeds]
    return pd.DataFrame(rows, columns=["seed", "share", *TACTICS])


def _in_order(table: pd.DataFrame) -> tuple[bool, tuple, tuple]:
    """Stopping > withholding > switching, each difference > 0 at 95% (paired seeds)."""
    first = interval(table.stopping - table.withholding)
    second = interval(table.withholding - table.switching)
    return _above(first) and _above(second), first, second


def _order_elsewhere(spec: Scenario, seeds: list[int]) -> list[tuple[str, bool]]:
    """Whether the order holds with each assumed constant moved (``REPERTOIRE_SENSITIVITY``)."""
    name = spec.collectives[0].name
    out = []
    for setting, value in REPERTOIRE_SENSITIVITY:
        path = f"collectives.{name}.{setting}" if setting.startswith("protest.") else setting
        moved = _repertoire_table(with_overrides(spec, {path: value}), seeds)
        out.append((f"{setting.split('.')[-1]} {value}", _in_order(moved)[0]))
    return out


def protest_repertoire(path: Path, fast: bool, ablate: bool = False) -> Result:
    """The share who protest and the mix of their tactics, against the survey.

    The reference scenario (every user a member of a protest against the dominant
    platform) is run on independent seeds; the share of all users protesting, averaged
    over the last steps, must have its 95% interval inside the survey's 95% sampling
    interval (Wilson, n = 463), and stopping > withholding > switching must hold with
    each paired difference > 0 at 95%. In full mode the order is rerun at other values
    of the two assumed constants it rests on (withholding's relief, the switching cost).
    Ablated, ties are not weighed (``network_weight`` 0).
    """
    # No twin: the shares are the real world's, and a twin never changes them (common
    # random numbers), it would only cost a second world per run.
    spec = with_overrides(load_scenario(path), {"measurement.twins": "off"})
    if ablate:
        spec = with_overrides(spec, {"population.network_weight": 0.0})
    seeds = _seeds(spec.seed, REPERTOIRE_SEEDS)
    table = _repertoire_table(spec, seeds)
    share = interval(table.share)
    low, high = wilson_interval(SURVEY_SHARE, SURVEY_N)
    inside = bool(low <= share[1] and share[2] <= high)
    ordered, first, second = _in_order(table)
    mix = {k: interval(table[k]) for k in TACTICS}
    checks = [] if fast or ablate else _order_elsewhere(spec, seeds)
    return _result(
        _About("protest_repertoire",
               "Protest repertoires: how many protest, and how (stop > withhold > switch)",
               "quantitative"), share, ablate,
        published=f"{SURVEY_SHARE:.0%} of respondents protested at least one of five large "
        f"technology companies (95% sampling interval {low:.3f}-{high:.3f} at n = "
        f"{SURVEY_N}); stopping use was the most common tactic, then blocking ads and "
        "tracking, ahead of switching (order only: the shares are not recorded)",
        obtained=f"share protesting {_iv(share)}; stopping {_iv(mix['stopping'])}, "
        f"withholding {_iv(mix['withholding'])}, switching {_iv(mix['switching'])}; "
        f"stopping minus withholding {_iv(first)}, withholding minus switching "
        f"{_iv(second)}" + "".join(
            f"; order at {label}: {'holds' if ok else 'fails'}" for label, ok in checks),
        tolerance="the share's interval inside the survey's; both differences > 0 (95%)",
        passed=inside and ordered, table=table, figure=_repertoire_figure(mix, share, low, high),
    )  # fmt: skip


def _repertoire_figure(mix: dict, share: tuple, low: float, high: float):
    fig, (ax,) = _figure("Protest repertoires: the share who protest, by tactic")
    names = ["all tactics", *mix]
    cis = [share, *mix.values()]
    ax.bar(names, [c[0] for c in cis], yerr=[[c[0] - c[1] for c in cis],
           [c[2] - c[0] for c in cis]], color=["C0", "C3", "C1", "C2"], capsize=4)  # fmt: skip
    ax.axhspan(low, high, color="0.85", zorder=0, label="survey: 30%, 95% sampling interval")
    ax.set(ylabel="share of all users (mean over seeds, 95% CI)")
    ax.legend(fontsize=8)
    return fig


# ----------------------------------------------------------- 18. two collectives


def _class_members(
    task: Task, n: int, homogeneity: float, source: int, rng: np.random.Generator,
    exclude: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """``n`` training rows: a ``homogeneity`` share from class ``source``, the rest random.

    Homogeneous members hold alike data (one digit); heterogeneous ones are anyone. Rows
    in ``exclude`` (the other collective) are never drawn.
    """
    pool = np.setdiff1d(np.arange(task.n_train), exclude)
    alike = rng.permutation(pool[task.y_train[pool] == source])[: int(round(homogeneity * n))]
    rest = rng.permutation(np.setdiff1d(pool, alike))[: n - len(alike)]
    return np.concatenate([alike, rest])


def _pair_success(
    task: Task, trigger: levers.Trigger, acting: list[tuple[np.ndarray, int]],
    targets: tuple[int, int], seed: int,
) -> tuple[float, float]:  # fmt: skip
    """Both collectives' success after a refit where the ``acting`` ones planted.

    Each acting collective plants the same trigger with its own target on its own rows;
    the model and the planting draws use ``seed`` whoever acts (common random numbers).
    """
    rng = np.random.default_rng(seed)
    X, y = task.X_train.copy(), task.y_train.copy()
    for rows, target in acting:
        X[rows], y[rows], _ = levers.plant_signal(X[rows], y[rows], trigger, target, rng)
    model = make_learner("logistic", task).fit(X, y, rng)
    a, b = (levers.signal_success(model.predict, task.X_test, task.y_test, trigger, t)
            for t in targets)  # fmt: skip
    return a, b


def _two_collective_rows(exp: Experiment, ablate: bool) -> pd.DataFrame:
    """Per seed, rival size and homogeneity: each collective's success alone and together."""
    px, alpha = int(exp.param("pixels", 4)), float(exp.param("alpha", 0.01))
    targets = (int(exp.param("target", 0)), int(exp.param("rival_target", 1)))
    sources = (int(exp.param("source", 2)), int(exp.param("rival_source", 3)))
    rows = []
    for s in _seeds(exp.seed, exp.splits):
        task = _digits01(s)
        trig = levers.choose_trigger(task.X_train, px, rare=True)
        n = int(round(alpha * task.n_train))
        for h in (float(v) for v in exp.param("homogeneity", [0.0, 1.0])):
            a = _class_members(task, n, h, sources[0], np.random.default_rng(s + 1), np.array([]))
            solo_a = _pair_success(task, trig, [(a, targets[0])], targets, s + 3)[0]
            for rival_alpha in exp.fractions:
                b = _class_members(task, int(round(rival_alpha * task.n_train)), h, sources[1],
                                   np.random.default_rng(s + 2), a)  # fmt: skip
                solo_b = _pair_success(task, trig, [(b, targets[1])], targets, s + 3)[1]
                both = [(a, targets[0])] + ([] if ablate else [(b, targets[1])])
                with_a, with_b = _pair_success(task, trig, both, targets, s + 3)
                if ablate:  # the rival never acts: each is measured in its own solo world
                    with_b = solo_b
                rows.append({"seed": s, "homogeneity": h, "rival_alpha": rival_alpha,
                             "solo": solo_a, "together": with_a, "rival_solo": solo_b,
                             "rival_together": with_b})  # fmt: skip
    return pd.DataFrame(rows)


def _cut(per_seed: pd.DataFrame, solo: str = "solo", together: str = "together") -> pd.Series:
    """Share of a collective's solo success lost when the other acts, per seed."""
    g = per_seed.groupby("seed")[[solo, together]].mean()
    return 1.0 - g[together] / g[solo].where(g[solo] > 0)


@_experiment
def two_collectives(exp: Experiment, ablate: bool) -> Result:
    """Each collective's efficacy acting together against acting alone, same seeds.

    Karan et al. (FAccT 2025): two collectives plant the same signal with different
    targets. Over the rival's size and the members' homogeneity, the first's cut (one
    minus together over solo, per seed, averaged over homogeneity) is reported with its
    interval. Checks: at equal size the cut is > 0 (95%); the cut at the largest rival
    has the published 75% within the tolerance of its interval; size decides who wins
    (the larger collective's success together exceeds the smaller's, 95%, both ways);
    homogeneity is secondary (the cut's change over sizes exceeds its change over
    homogeneity, paired, 95%). Ablated, the rival never acts: every cut is 0.
    """
    raw = _two_collective_rows(exp, ablate)
    alpha, sizes = float(exp.param("alpha", 0.01)), sorted(exp.fractions)
    equal = min(sizes, key=lambda f: abs(f - alpha))
    cut = {f: interval(_cut(raw[raw.rival_alpha == f])) for f in sizes}
    rival_cut = interval(_cut(raw[raw.rival_alpha == equal], "rival_solo", "rival_together"))
    by_seed = raw.groupby(["rival_alpha", "seed"]).mean(numeric_only=True)
    lead = by_seed.together - by_seed.rival_together  # the first's success minus the rival's
    small_loses, big_wins = interval(lead[sizes[0]]), interval(-lead[sizes[-1]])
    same = raw[raw.rival_alpha == equal].set_index(["seed", "homogeneity"])
    by_h = (1 - same.together / same.solo.where(same.solo > 0)).unstack("homogeneity")
    size_effect = _cut(raw[raw.rival_alpha == sizes[-1]]) - _cut(raw[raw.rival_alpha == sizes[0]])
    secondary = interval(size_effect.abs() - (by_h.max(axis=1) - by_h.min(axis=1)))
    published, tol = exp.published["max_cut"], exp.tolerance
    ok = (_above(cut[equal]) and _near(published, cut[sizes[-1]], tol) and _above(small_loses)
          and _above(big_wins) and _above(secondary))  # fmt: skip
    table = raw.groupby(["rival_alpha", "homogeneity"]).mean(numeric_only=True).drop(
        columns="seed").reset_index()  # fmt: skip
    table["cut"] = 1 - table.together / table.solo
    return _result(
        exp, cut[equal], ablate,
        obtained=f"the second collective cuts the first's efficacy by {_iv(cut[equal], 2)} at "
        f"equal size (the first cuts the second's by {_iv(rival_cut, 2)}); by rival size "
        + ", ".join(f"{f} {_iv(c, 2)}" for f, c in cut.items())
        + f"; smaller rival: first leads by {_iv(small_loses, 2)}; larger rival: rival leads "
        f"by {_iv(big_wins, 2)}; size effect on the cut minus homogeneity's {_iv(secondary, 2)}",
        passed=bool(ok), table=table, figure=_two_collectives_figure(exp, table, published),
    )  # fmt: skip


def _two_collectives_figure(exp: Experiment, table: pd.DataFrame, published: float) -> plt.Figure:
    fig, (ax, bx) = _figure(exp.title, 2)
    for h, part in table.groupby("homogeneity"):
        ax.plot(part.rival_alpha, part.cut, "o-", label=f"homogeneity {h}")
        bx.plot(part.rival_alpha, part.together, "o-", label=f"first, homogeneity {h}")
        bx.plot(part.rival_alpha, part.rival_together, "s--", label=f"rival, homogeneity {h}")
    ax.axhline(published, color="grey", lw=0.6, label=f"published: up to {published}")
    ax.set(xlabel="rival collective's size", ylabel="first's efficacy cut (1 - together/solo)",
           ylim=(0.0, 1.0))  # fmt: skip
    bx.axvline(float(exp.param("alpha", 0.01)), color="grey", lw=0.6)
    bx.set(xlabel="rival collective's size", ylabel="success acting together")
    for a in (ax, bx):
        a.legend(fontsize=7)
    return fig


# ------------------------------------------------------ 19. recommender promotion

PROMOTION_SEEDS, PROMOTION_SEEDS_FAST = 16, 4
PROMOTION_FACTOR = 5.0  # "a large factor": the paper's is 25-40x
PROMOTION_PUBLISHED = 40.0  # Baumann & Mendler-Dünner 2024 (v2; 25x in v1)


@lru_cache(maxsize=64)
def _promotion_run(scenario_json: str, seed: int) -> dict[str, float]:
    """The promoted item's top-10 rate in a run and its twin, and the hit-rate effect."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    name = spec.collectives[0].name
    result = simulate(spec, seed=seed)
    last = result.model_table.iloc[1:].tail(5)  # the outcomes' own basis (FINAL_STEPS)
    return {"seed": seed, "rate": float(last[f"target_rate[{name}]"].mean()),
            "twin_rate": float(last[f"twin_target_rate[{name}]"].mean()),
            "hit_rate_effect": result.outcomes[f"hit_rate_effect[{name}]"],
            "hit_rate": result.outcomes[f"final_hit_rate[{spec.collectives[0].target}]"],
            }  # fmt: skip


def _ratio_interval(num: np.ndarray, den: np.ndarray, seed: int) -> tuple:
    """Ratio of means over seeds with a 95% paired percentile bootstrap over seeds."""
    if den.sum() <= 0:
        return float("nan"), float("nan"), float("nan"), len(num)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), size=(2000, len(num)))
    boot = num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-12)
    boot = boot[den[idx].sum(axis=1) > 0]
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(num.sum() / den.sum()), float(low), float(high), len(num)


def recsys_promotion(path: Path, fast: bool, ablate: bool = False) -> Result:
    """A collective under 1% of raters promotes an item: its top-10 rate, as the paper's.

    The headline is the paper's measure: the item's top-10 rate over an average item's
    (every top 10 holds 10 items, so an average item is in a share 10 / n_items of them;
    items are all rated alike on a ratings stream), mean over seeds with a 95% interval.
    Beside it, the rate over the twin world's (same seeds, nobody promotes; a ratio of
    means with a paired bootstrap interval) and the paired rise. The platform's cost is
    the hit-rate effect (twin minus real). Passes when the headline's interval lies above
    ``PROMOTION_FACTOR``, the rise is above 0 (95%) and the hit-rate effect's interval
    holds 0. Ablated, members act normally: the campaign never launches, the rise is 0.
    """
    spec = load_scenario(path)
    c = spec.collectives[0]
    if ablate:
        late = c.model_copy(update={"start": spec.steps})
        spec = spec.model_copy(update={"collectives": [late]})
    seeds = _seeds(spec.seed, PROMOTION_SEEDS_FAST if fast else PROMOTION_SEEDS)
    table = pd.DataFrame([_promotion_run(spec.model_dump_json(), s) for s in seeds])
    factor = _ratio_interval(table.rate.to_numpy(), table.twin_rate.to_numpy(), spec.seed)
    rate, twin = interval(table.rate), interval(table.twin_rate)
    rise = interval(table.rate - table.twin_rate)
    average = 10 / spec.task.stream.n_items  # the paper's baseline: an average song
    vs_average = tuple(v / average for v in rate[:3]) + (rate[3],)
    cost = interval(table.hit_rate_effect)
    hit = interval(table.hit_rate)
    holds_zero = bool(cost[1] <= 0 <= cost[2]) or cost[1] == cost[2] == 0
    fig, (ax,) = _figure("Promoting an item: top-10 rate with and without the collective")
    x = np.arange(len(table))
    ax.bar(x - 0.2, table.twin_rate, 0.4, label="twin world (nobody promotes)")
    ax.bar(x + 0.2, table.rate, 0.4, label=f"{c.size:.1%} of raters promote item {c.item}")
    ax.set(xlabel="seed", ylabel="share of users with the item in their top 10")
    ax.legend(fontsize=8)
    share = f"{c.size:.1%} of {spec.population.n_users} raters"
    return _result(
        _About("recsys_promotion",
               "Recommender promotion: a tiny collective multiplies an item's recommendations",
               "directional"), vs_average, ablate,
        published=f"a collective of < 0.01% of playlists gets up to {PROMOTION_PUBLISHED:.0f}x "
        "more test-time recommendations for its song (25x in the first version) at a "
        "negligible cost to the platform",
        obtained=f"{share}: the item's top-10 rate {_iv(vs_average, 1)}x an average item's "
        f"({_iv(rate, 4)} vs {average:.4f}); {_iv(factor, 1)}x the twin's ({_iv(twin, 4)}; "
        f"rise {_iv(rise, 4)}); hit-rate effect {_iv(cost, 4)} (hit rate {_iv(hit)})",
        tolerance=f"rate over an average item's > {PROMOTION_FACTOR:.0f} and rise over the "
        "twin > 0 (95%); the hit-rate effect's interval holds 0",
        passed=bool(vs_average[1] > PROMOTION_FACTOR) and _above(rise) and holds_zero,
        table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------------------ the registry

ANALYSES: dict[str, tuple[str, Callable[..., Result]]] = {
    "strike_curve": ("strike_curve.yaml", strike_curve_breast_cancer),
    "cdc_curve": ("cdc_curve.yaml", cdc_curve_breast_cancer),
    "strike_vs_cdc": ("strike_vs_cdc.yaml", strike_vs_cdc),
    "normalisation": ("normalisation.yaml", raw_vs_normalised),
    "larger_is_robust": ("larger_is_robust.yaml", larger_is_robust),
    "group_strike": ("group_strike.yaml", group_strike),
    "strike_plus_cdc": ("strike_plus_cdc.yaml", strike_plus_cdc),
    "signal_planting": ("signal_planting.yaml", signal_planting),
    "conflicting_collectives": ("conflicting_collectives.yaml", conflicting_collectives),
    "size_vs_homogeneity": ("size_vs_homogeneity.yaml", size_vs_homogeneity),
    "coordination_noise": ("coordination_noise.yaml", coordination_noise),
    "backdoor": ("backdoor.yaml", backdoor),
    "knn_shapley": ("knn_shapley.yaml", knn_shapley_checks),
    "tmc_vs_knn": ("tmc_vs_knn.yaml", tmc_vs_knn),
    "sisa": ("sisa.yaml", sisa_unlearning),
    "ai_substitute": ("ai_substitute.yaml", ai_substitute),
    "protest_users": ("protest_users.yaml", protest_users),
    "two_collectives": ("two_collectives.yaml", two_collectives),
    "recsys_promotion": ("recsys_promotion.yaml", recsys_promotion),
    "protest_repertoire": ("protest_repertoire.yaml", protest_repertoire),
}
"""Replication name -> (file in scenarios/replications/, analysis(path, fast, ablate))."""
