"""The thirteen analyses: each runs one replication file and compares it with the paper.

Modelling assumptions shared by all analyses (each function states its own on top):

* Every random choice is spawned from the file's root seed (``numpy.random.SeedSequence``),
  so a file and ``--fast`` fix every number in the summary.
* A *quantitative* check passes when the obtained number lies within the stated tolerance
  of the published one; a *directional* check passes when the published qualitative
  finding (an ordering, a sign, a threshold) holds. Each result says which.
* Normalised effects follow the papers: the share of the gap between a baseline (the naive,
  non-learning model, or the worst performance observed in the experiment when the paper
  normalises that way) and the full-data model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from abm import levers, valuation  # noqa: E402
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
from abm.scenario import Scenario, load_scenario  # noqa: E402

__all__ = ["ANALYSES", "Result"]


@dataclass
class Result:
    """One replication's outcome: a summary row, its figure and the numbers behind it."""

    name: str
    title: str
    check: str
    published: str
    obtained: str
    tolerance: str
    passed: bool
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: plt.Figure | None = None


# ---------------------------------------------------------------------- helpers


def _fmt(values, digits: int = 3) -> str:
    return " ".join(f"{v:.{digits}f}" for v in np.atleast_1d(values))


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


def _curve_table(exp: Experiment, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    strikes, cdcs = [], []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        strike, cdc = _curves(name, s, exp.standardise, tuple(exp.fractions), exp.replicates)
        strikes.append(strike.assign(split=i))
        cdcs.append(cdc.assign(split=i))
    return pd.concat(strikes, ignore_index=True), pd.concat(cdcs, ignore_index=True)


def _published(exp: Experiment, keys) -> np.ndarray:
    return np.array([exp.published[_key(k)] for k in keys])


def _key(f: float) -> str:
    return str(float(f))


def _figure(title: str, ncols: int = 1, width: float = 5.5) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.0), squeeze=False)
    fig.suptitle(title, fontsize=10)
    return fig, axes[0]


# ------------------------------------------------------------------ 1. strike curve


def strike_curve_breast_cancer(path: Path, fast: bool) -> Result:
    """Accuracy after a strike by fraction f: full refit on the remaining rows."""
    exp = load_experiment(path).reduced(fast)
    strike, _ = _curve_table(exp, exp.task)
    fractions = [f for f in exp.fractions if _key(f) in exp.published]
    q = strike.groupby("fraction").quality.agg(["mean", "std"]).loc[fractions]
    pub = _published(exp, fractions)
    worst = float(np.max(np.abs(q["mean"].to_numpy() - pub)))
    fig, (ax,) = _figure(exp.title)
    ax.plot(fractions, pub, "ks--", label="published")
    ax.errorbar(fractions, q["mean"], yerr=q["std"], fmt="o-", label="obtained (mean, sd)")
    ax.set(xlabel="strike fraction f", ylabel="held-out accuracy")
    ax.legend()
    table = pd.DataFrame({"fraction": fractions, "published": pub, "obtained": q["mean"].values,
                          "sd": q["std"].values})  # fmt: skip
    return Result(
        exp.name, exp.title, exp.check,
        published=f"accuracy at f={_fmt(fractions, 2)}: {_fmt(pub)}",
        obtained=f"{_fmt(q['mean'])} (max |diff| {worst:.3f})",
        tolerance=f"max |diff| <= {exp.tolerance}",
        passed=worst <= exp.tolerance, table=table, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------------- 2. CDC curve


def cdc_curve_breast_cancer(path: Path, fast: bool) -> Result:
    """A small competitor trained only on the contributed fraction f."""
    exp = load_experiment(path).reduced(fast)
    strike, cdc = _curve_table(exp, exp.task)
    fractions = [f for f in exp.fractions if _key(f) in exp.published]
    q = cdc.groupby("fraction").quality.agg(["mean", "std"])
    pub = _published(exp, fractions)
    diff = float(np.max(np.abs(q["mean"].loc[fractions].to_numpy() - pub)))
    # The paper normalises between the worst and best performance observed: the
    # competitor at the smallest fraction and the incumbent's full-data model.
    worst, best = float(q["mean"].iloc[0]), float(cdc.full.mean())
    at = float(exp.param("normalised_at", 0.2))
    norm = float(normalise(q["mean"].loc[at], worst, best))
    norm_naive = float(cdc[cdc.fraction == at].normalised.mean())
    target = float(exp.param("published_normalised", 0.75))
    norm_tol = float(exp.param("normalised_tolerance", 0.1))
    passed = diff <= exp.tolerance and abs(norm - target) <= norm_tol
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.plot(fractions, pub, "ks--", label="published")
    ax.errorbar(q.index, q["mean"], yerr=q["std"], fmt="o-", label="obtained")
    ax.axhline(best, color="grey", lw=0.8, label="incumbent, all data")
    ax.set(xlabel="contributing fraction f", ylabel="competitor accuracy")
    ax.legend()
    bx.plot(q.index, normalise(q["mean"].to_numpy(), worst, best), "o-", label="worst..best")
    bx.plot(q.index, cdc.groupby("fraction").normalised.mean(), "s:", label="naive..full")
    bx.plot([at], [target], "k*", ms=12, label="published")
    bx.set(xlabel="contributing fraction f", ylabel="normalised performance")
    bx.legend()
    table = q.rename(columns={"mean": "obtained", "sd": "sd"}).reset_index()
    return Result(
        exp.name, exp.title, exp.check,
        published=f"accuracy {_fmt(pub)} at f={_fmt(fractions, 2)}; normalised at {at}: {target}",
        obtained=f"{_fmt(q['mean'].loc[fractions])}; normalised {norm:.2f} "
        f"(naive-baseline normalisation {norm_naive:.2f})",
        tolerance=f"max |diff| <= {exp.tolerance}; normalised +- {norm_tol}",
        passed=bool(passed), table=table, figure=fig,
    )  # fmt: skip


# ----------------------------------------------------------- 3. strike vs CDC asymmetry


def strike_vs_cdc(path: Path, fast: bool) -> Result:
    """Normalised effect of a strike and of CDC by the same fraction, per task."""
    exp = load_experiment(path).reduced(fast)
    at = float(exp.param("fraction", 0.1))
    rows = []
    for name in exp.all_tasks:
        strike, cdc = _curve_table(exp, name)
        sq = strike.groupby("fraction").quality.mean()
        cq = cdc.groupby("fraction").quality.mean()
        worst, best = float(cq.iloc[0]), float(strike.full.mean())
        for f in exp.fractions:
            rows.append({"task": name, "fraction": f,
                         "strike": float(1 - normalise(sq.loc[f], worst, best)),
                         "cdc": float(normalise(cq.loc[f], worst, best))})  # fmt: skip
    table = pd.DataFrame(rows)
    here = table[np.isclose(table.fraction, at)].set_index("task")
    tol = exp.tolerance
    lo_s, hi_s = exp.published["strike_low"], exp.published["strike_high"]
    lo_c, hi_c = exp.published["cdc_low"], exp.published["cdc_high"]
    ok = (
        (here.strike <= hi_s + tol).all()
        and (here.cdc >= lo_c - tol).all()
        and (here.cdc <= hi_c + tol).all()
        and (here.cdc > here.strike).all()
    )
    fig, (ax,) = _figure(exp.title, width=6.5)
    x = np.arange(len(here))
    ax.bar(x - 0.2, here.strike, 0.4, label=f"strike, f={at}")
    ax.bar(x + 0.2, here.cdc, 0.4, label=f"CDC, f={at}")
    ax.axhspan(lo_c, hi_c, color="C1", alpha=0.1, label="published CDC range")
    ax.axhspan(lo_s, hi_s, color="C0", alpha=0.15, label="published strike range")
    ax.set_xticks(x, here.index)
    ax.set(ylabel="share of the worst..best range")
    ax.legend(fontsize=8)
    obtained = "; ".join(
        f"{t}: strike {r.strike:.2f} vs CDC {r.cdc:.2f}" for t, r in here.iterrows()
    )
    return Result(
        exp.name, exp.title, exp.check,
        published=f"f={at}: strike {lo_s}-{hi_s} vs CDC {lo_c}-{hi_c} of the range",
        obtained=obtained,
        tolerance=f"ranges widened by {tol}; CDC > strike on every task",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------- 4. normalisation


def raw_vs_normalised(path: Path, fast: bool) -> Result:
    """Raters strike: raw loss of quality vs share of the personalisation gap removed."""
    exp = load_experiment(path).reduced(fast)
    rows = []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        task = load_task("ratings", rng=np.random.default_rng(s),
                         n_samples=int(exp.param("n_ratings", 20000)))  # fmt: skip
        rng = np.random.default_rng(s + 1)
        full = make_learner(exp.learner, task).fit(task.X_train, task.y_train, rng)
        q_full = full.score(task.X_test, task.y_test)
        naive = naive_learner_for(task).fit(task.X_train, task.y_train, rng)
        q_naive = naive.score(task.X_test, task.y_test)
        for f in exp.fractions:
            for r in range(exp.replicates):
                strikers = rng.permutation(task.n_raters)[: int(round(f * task.n_raters))]
                keep = ~np.isin(task.X_train[:, 0], strikers)
                model = make_learner(exp.learner, task)
                model.fit(task.X_train[keep], task.y_train[keep], rng)
                q = model.score(task.X_test, task.y_test)
                rows.append({"split": i, "replicate": r, "fraction": f,
                             "raw": (q_full - q) / q_full,
                             "normalised": 1 - normalise(q, q_naive, q_full)})  # fmt: skip
    table = pd.DataFrame(rows)
    m = table.groupby("fraction")[["raw", "normalised"]].mean()
    pub = _published(exp, m.index)
    diff = float(np.max(np.abs(m.normalised.to_numpy() - pub)))
    ratio = float((m.normalised / m.raw).min())
    min_ratio = float(exp.param("min_ratio", 5.0))
    fig, (ax,) = _figure(exp.title)
    ax.plot(m.index, pub, "ks--", label="published (ML-20M, share of gap)")
    ax.plot(m.index, m.normalised, "o-", label="obtained, share of gap")
    ax.plot(m.index, m.raw, "^-", label="obtained, raw relative loss")
    ax.set(xlabel="share of raters striking", ylabel="effect")
    ax.legend(fontsize=8)
    return Result(
        exp.name, exp.title, exp.check,
        published=f"gap removed at f={_fmt(m.index, 1)}: {_fmt(pub, 2)}; raw effects small",
        obtained=f"gap removed {_fmt(m.normalised, 2)}; raw {_fmt(m.raw, 3)} "
        f"(normalised/raw >= {ratio:.1f})",
        tolerance=f"max |diff| <= {exp.tolerance}; normalised/raw >= {min_ratio}",
        passed=diff <= exp.tolerance and ratio >= min_ratio,
        table=m.reset_index().assign(published=pub), figure=fig,
    )  # fmt: skip


# --------------------------------------------------------------- 5. larger is robust


def larger_is_robust(path: Path, fast: bool) -> Result:
    """The same strike on tasks of increasing size: normalised effect per task."""
    exp = load_experiment(path).reduced(fast)
    rows = []
    for name in exp.all_tasks:
        strike, _ = _curve_table(exp, name)
        n = _task(name, _seeds(exp.seed, 1)[0], exp.standardise, 0.25).n_train
        for f, grp in strike.groupby("fraction"):
            rows.append({"task": name, "n_train": n, "fraction": f,
                         "effect": float(1 - grp.normalised.mean()),
                         "se": float(grp.normalised.std() / np.sqrt(len(grp)))})  # fmt: skip
    table = pd.DataFrame(rows).sort_values(["fraction", "n_train"])
    at = float(exp.param("fraction", 0.8))
    here = table[np.isclose(table.fraction, at)]
    decreasing = bool(np.all(np.diff(here.effect.to_numpy()) < 0))
    fig, (ax,) = _figure(exp.title)
    for f, grp in table.groupby("fraction"):
        ax.errorbar(grp.n_train, grp.effect, yerr=grp.se, fmt="o-", label=f"strike f={f}")
    for _, r in here.iterrows():
        ax.annotate(r.task, (r.n_train, r.effect), fontsize=8)
    ax.set(xscale="log", xlabel="training rows", ylabel="share of the gap removed")
    ax.legend()
    return Result(
        exp.name, exp.title, exp.check,
        published=f"30% boycott: {exp.published['small']} of the gap (ML-1M) vs "
        f"{exp.published['large']} (ML-20M): larger data, smaller effect",
        obtained=f"f={at}: " + ", ".join(f"{r.task} (n={r.n_train}) {r.effect:.3f}"
                                        for _, r in here.iterrows()),
        tolerance="effect strictly decreasing in training size",
        passed=decreasing, table=table, figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------- 6. group strike


GROUP_STRIKE_SEEDS = 3
GROUP_STRIKE_SEEDS_FAST = 1


def group_strike(path: Path, fast: bool) -> Result:
    """One group (whose data favours one class) strikes: whose quality falls most?"""
    from abm.runner import simulate

    spec = load_scenario(path)
    group = spec.collectives[0].group
    control = spec.model_copy(update={"collectives": [], "name": f"{spec.name}_control"})
    n = GROUP_STRIKE_SEEDS_FAST if fast else GROUP_STRIKE_SEEDS
    rows = []
    for s in _seeds(spec.seed, n):
        for arm, scenario in (("strike", spec), ("control", control)):
            g = simulate(scenario, seed=s).groups
            last = g[(g.step == g.step.max()) & (g.platform == spec.collectives[0].target)]
            rows += [{"seed": s, "arm": arm, "group": int(r.group), "quality": r.quality}
                     for r in last.itertuples()]  # fmt: skip
    table = pd.DataFrame(rows).pivot_table(index="group", columns="arm", values="quality")
    table["drop"] = table.control - table.strike
    hurt_most = int(table["drop"].idxmax())
    others = table["drop"].drop(group)
    fig, (ax,) = _figure(spec.question or spec.name)
    ax.bar(table.index, table["drop"], color=["C3" if g == group else "C0" for g in table.index])
    ax.set(xlabel="user group", ylabel="quality lost vs the same seeds without a strike")
    return Result(
        "group_strike", "A homogeneous group's strike hurts that group most", "directional",
        published="strikes by a homogeneous group hurt that group most",
        obtained=f"group {group} struck: its quality fell {table['drop'][group]:.3f}; "
        f"largest other group {others.max():.3f}",
        tolerance="the striking group's loss is the largest",
        passed=hurt_most == group and table["drop"][group] > 0,
        table=table.reset_index(), figure=fig,
    )  # fmt: skip


# ------------------------------------------------------- 7-9. algorithmic collective action


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
    X, y = task.X_train.copy(), task.y_train.copy()
    members = order[:n]
    X[members], y[members], _ = levers.plant_signal(X[members], y[members], trigger, target, rng,
                                                    **plant)  # fmt: skip
    if rival is not None:
        others = order[n : n + int(round(rival[0] * task.n_train))]
        X[others], y[others], _ = levers.plant_signal(X[others], y[others], trigger, rival[1], rng)
    model = make_learner("logistic", task).fit(X, y, rng)
    first = levers.signal_success(model.predict, task.X_test, task.y_test, trigger, target)
    if rival is None:
        return first, None
    return first, levers.signal_success(model.predict, task.X_test, task.y_test, trigger, rival[1])


def _mean_success(exp: Experiment, alpha: float, trigger, target: int, **kw) -> float:
    values = []
    for s in _seeds(exp.seed, exp.splits):
        task = _digits01(s)
        for r in range(exp.replicates):
            values.append(_signal_success(task, alpha, trigger(task), target, s + 7 * r, **kw)[0])
    return float(np.mean(values))


def _trigger(n_pixels: int, rare: bool) -> Callable[[Task], levers.Trigger]:
    return lambda task: levers.choose_trigger(task.X_train, n_pixels, rare=rare)


def signal_planting(path: Path, fast: bool) -> Result:
    """Success against alpha; rare vs common trigger; feature-label vs feature-only."""
    exp = load_experiment(path).reduced(fast)
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    rare, common = _trigger(px, True), _trigger(px, False)
    rows = []
    for a in exp.fractions:
        rows.append({"alpha": a, "rare": _mean_success(exp, a, rare, target),
                     "common": _mean_success(exp, a, common, target)})  # fmt: skip
    table = pd.DataFrame(rows)
    a_fo = float(exp.param("feature_only_alpha", 0.02))
    fo_target = int(exp.param("feature_only_target", 8))
    label = _mean_success(exp, a_fo, rare, fo_target)
    feature_only = _mean_success(exp, a_fo, rare, fo_target, feature_only=True)
    a_cmp = float(exp.param("compare_alpha", 0.02))
    cmp = table.set_index("alpha").loc[a_cmp]
    low, high = float(table.rare.iloc[0]), float(table.rare.iloc[-1])
    above = table.alpha[table.rare >= 0.5]
    critical = float(above.iloc[0]) if len(above) else float("nan")
    margin = exp.tolerance
    ok = (low < 0.2 and high > 0.8 and cmp.rare > cmp.common + margin
          and label > feature_only + margin)  # fmt: skip
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.plot(table.alpha, table.rare, "o-", label="rare trigger pixels")
    ax.plot(table.alpha, table.common, "s-", label="common trigger pixels")
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set(xscale="log", xlabel="collective size alpha", ylabel="success S(alpha)")
    ax.legend()
    bx.bar(["feature-label", "feature-only"], [label, feature_only])
    bx.set(ylabel=f"success at alpha={a_fo}, target {fo_target}")
    return Result(
        exp.name, exp.title, exp.check,
        published="steep rise above a small critical mass; rare signal needs far smaller "
        "alpha; feature-only needs more",
        obtained=f"S={low:.2f} at alpha={table.alpha.iloc[0]}, {high:.2f} at "
        f"{table.alpha.iloc[-1]} (S>=0.5 from alpha={critical}); at {a_cmp}: rare "
        f"{cmp.rare:.2f} vs common {cmp.common:.2f}; label {label:.2f} vs feature-only "
        f"{feature_only:.2f}",
        tolerance=f"S<0.2 below, >0.8 above the critical mass; differences > {margin}",
        passed=bool(ok),
        table=table.assign(feature_label=label, feature_only=feature_only), figure=fig,
    )  # fmt: skip


def conflicting_collectives(path: Path, fast: bool) -> Result:
    """Two collectives plant the same trigger with different targets."""
    exp = load_experiment(path).reduced(fast)
    px = int(exp.param("pixels", 4))
    alpha = float(exp.param("alpha", 0.01))
    t0, t1 = int(exp.param("target", 0)), int(exp.param("rival_target", 1))
    rows = []
    for rival_alpha in exp.fractions:
        alone0, alone1, both0, both1 = [], [], [], []
        for s in _seeds(exp.seed, exp.splits):
            task = _digits01(s)
            trig = levers.choose_trigger(task.X_train, px, rare=True)
            for r in range(exp.replicates):
                seed = s + 7 * r
                alone0.append(_signal_success(task, alpha, trig, t0, seed)[0])
                alone1.append(_signal_success(task, rival_alpha, trig, t1, seed + 1)[0])
                b0, b1 = _signal_success(task, alpha, trig, t0, seed, rival=(rival_alpha, t1))
                both0.append(b0)
                both1.append(b1)
        a0, a1, b0, b1 = (float(np.mean(v)) for v in (alone0, alone1, both0, both1))
        rows.append({"rival_alpha": rival_alpha, "alone": a0, "with_rival": b0,
                     "loss": 1 - b0 / a0 if a0 else np.nan, "rival_alone": a1,
                     "rival_with": b1, "rival_loss": 1 - b1 / a1 if a1 else np.nan})  # fmt: skip
    table = pd.DataFrame(rows)
    same = table.iloc[(table.rival_alpha - alpha).abs().argmin()]
    max_loss = float(table.loss.max())
    grows = bool(table.loss.iloc[-1] > table.loss.iloc[0])
    ok = same.loss >= exp.tolerance and same.rival_loss >= exp.tolerance and grows
    fig, (ax,) = _figure(exp.title)
    ax.plot(table.rival_alpha, table.alone, "k--", label=f"collective (alpha={alpha}) alone")
    ax.plot(table.rival_alpha, table.with_rival, "o-", label="with the rival acting")
    ax.plot(table.rival_alpha, table.loss, "s:", label="share of success lost")
    ax.axhline(exp.published["max_loss"], color="grey", lw=0.6, label="published: up to 0.75")
    ax.set(xlabel="rival collective's size", ylabel="success / loss")
    ax.legend(fontsize=8)
    return Result(
        exp.name, exp.title, exp.check,
        published=f"a collective can lose up to {exp.published['max_loss']} of its success "
        "when a conflicting one acts; size matters",
        obtained=f"equal sizes: losses {same.loss:.2f} and {same.rival_loss:.2f}; "
        f"largest loss {max_loss:.2f} (rival at {table.rival_alpha.iloc[table.loss.argmax()]})",
        tolerance=f"both lose >= {exp.tolerance} at equal size; loss grows with rival size",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


def coordination_noise(path: Path, fast: bool) -> Result:
    """Members misapply the signal with probability ``noise``."""
    exp = load_experiment(path).reduced(fast)
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    alpha = float(exp.param("alpha", 0.005))
    noises = [float(v) for v in exp.param("noise", [0.0, 0.3, 0.6, 0.9])]
    table = pd.DataFrame(
        {
            "noise": noises,
            "success": [
                _mean_success(exp, alpha, _trigger(px, True), target, noise=n) for n in noises
            ],
        }
    )
    drop = float(table.success.iloc[0] - table.success.iloc[-1])
    ok = drop >= exp.tolerance and bool(np.all(np.diff(table.success) <= 0.05))
    fig, (ax,) = _figure(exp.title)
    ax.plot(table.noise, table.success, "o-")
    ax.set(xlabel="coordination noise (share misapplying)", ylabel=f"success at alpha={alpha}")
    return Result(
        exp.name, exp.title, exp.check,
        published="noisy coordination lowers success",
        obtained=f"success {_fmt(table.success, 2)} at noise {_fmt(noises, 1)}",
        tolerance=f"falls by >= {exp.tolerance} from no noise to the most; no rise > 0.05",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------------------- 10-11. valuation


def _valuation_data(exp: Experiment, seed: int, n_train: int, n_test: int):
    task = _task(exp.task, seed, True, 0.25)
    rng = np.random.default_rng(seed + 3)
    tr = rng.choice(task.n_train, n_train, replace=False)
    te = rng.choice(task.n_test, n_test, replace=False)
    return task.X_train[tr], task.y_train[tr], task.X_test[te], task.y_test[te], task.n_classes, rng


def knn_shapley_checks(path: Path, fast: bool) -> Result:
    """Efficiency, flipped labels valued lowest, and removal curves."""
    exp = load_experiment(path).reduced(fast)
    k = int(exp.param("k", 5))
    X, y, Xt, yt, n_classes, rng = _valuation_data(
        exp, _seeds(exp.seed, 1)[0], int(exp.param("n_train", 400)), int(exp.param("n_test", 200))
    )
    y_flipped, flipped = levers.flip_labels(y, float(exp.param("flip_rate", 0.1)), n_classes, rng)
    values = valuation.knn_shapley(X, y_flipped, Xt, yt, k)
    efficiency = abs(values.sum() - valuation.knn_utility(X, y_flipped, Xt, yt, k))
    bottom = np.argsort(values)[: int(flipped.sum())]
    precision = float(flipped[bottom].mean())  # share of the lowest-valued that are flipped
    removal = []
    order_high = np.argsort(-values)
    for frac in exp.fractions:
        m = int(round(frac * len(y)))
        keep_high = np.setdiff1d(np.arange(len(y)), order_high[:m])
        randoms = [np.setdiff1d(np.arange(len(y)), rng.permutation(len(y))[:m])
                   for _ in range(exp.replicates)]  # fmt: skip

        def acc(idx):
            return KNearestNeighbours(n_classes, k).fit(X[idx], y_flipped[idx], rng).score(Xt, yt)

        removal.append({"removed": frac, "high_value_first": acc(keep_high),
                        "random": float(np.mean([acc(i) for i in randoms]))})  # fmt: skip
    table = pd.DataFrame(removal)
    faster = bool((table.high_value_first <= table.random).all()
                  and (table.random - table.high_value_first).iloc[-1] > 0.05)  # fmt: skip
    min_precision = exp.published["flipped_in_lowest"]
    ok = efficiency <= exp.tolerance and precision >= min_precision and faster
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.hist([values[~flipped], values[flipped]], bins=30, label=["clean", "flipped"], stacked=True)
    ax.set(xlabel="KNN-Shapley value", ylabel="points")
    ax.legend()
    bx.plot(table.removed, table.high_value_first, "o-", label="highest value first")
    bx.plot(table.removed, table.random, "s--", label="random")
    bx.set(xlabel="share of training data removed", ylabel="KNN accuracy")
    bx.legend()
    return Result(
        exp.name, exp.title, exp.check,
        published="values sum to V(D)-V(empty); flipped labels lowest; removing high value "
        "first hurts faster",
        obtained=f"|sum - V(D)| = {efficiency:.1e}; {precision:.0%} of the lowest-valued "
        f"{len(bottom)} are flipped; at {table.removed.iloc[-1]:.0%} removed: "
        f"{table.high_value_first.iloc[-1]:.2f} vs random {table.random.iloc[-1]:.2f}",
        tolerance=f"efficiency <= {exp.tolerance}; flipped share >= {min_precision}; "
        "high-first below random",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


def tmc_vs_knn(path: Path, fast: bool) -> Result:
    """TMC-Shapley with the KNN utility on a small subset, against the exact values."""
    exp = load_experiment(path).reduced(fast)
    k = int(exp.param("k", 5))
    X, y, Xt, yt, n_classes, rng = _valuation_data(
        exp, _seeds(exp.seed, 1)[0], int(exp.param("n_train", 40)), int(exp.param("n_test", 100))
    )
    y, _ = levers.flip_labels(y, float(exp.param("flip_rate", 0.1)), n_classes, rng)
    exact = valuation.knn_shapley(X, y, Xt, yt, k)

    def utility(idx: np.ndarray) -> float:
        return valuation.knn_utility(X[idx], y[idx], Xt, yt, k)

    n_perm = int(exp.param("permutations", 200))
    tmc = valuation.tmc_shapley(len(y), utility, rng, n_perm, float(exp.param("truncation", 0.01)))
    rho = float(spearmanr(exact, tmc).statistic)
    target = exp.published["spearman"]
    fig, (ax,) = _figure(exp.title)
    ax.scatter(exact, tmc, s=12)
    ax.set(xlabel="KNN-Shapley (exact)", ylabel=f"TMC-Shapley ({n_perm} permutations)")
    ax.set_title(f"Spearman {rho:.2f}", fontsize=9)
    return Result(
        exp.name, exp.title, exp.check,
        published=f"TMC estimates the same Shapley values (rank correlation ~{target})",
        obtained=f"Spearman {rho:.3f} over {len(y)} points, {n_perm} permutations",
        tolerance=f"Spearman >= {target - exp.tolerance:.2f}",
        passed=rho >= target - exp.tolerance,
        table=pd.DataFrame({"exact": exact, "tmc": tmc}), figure=fig,
    )  # fmt: skip


# ---------------------------------------------------------------------- 12. SISA


def sisa_unlearning(path: Path, fast: bool) -> Result:
    """Samples retrained per deletion against 1/S of the data; accuracy against S."""
    exp = load_experiment(path).reduced(fast)
    shards = [int(s) for s in exp.param("shards", [1, 2, 5, 10])]
    deletions = int(exp.param("deletions", 10))
    rows = []
    for i, s in enumerate(_seeds(exp.seed, exp.splits)):
        task = _task(exp.task, s, True, 0.25)
        users = int(exp.param("users", 200))
        contributor = np.random.default_rng(s).integers(0, users, task.n_train)
        for S in shards:
            rng = np.random.default_rng(s + S)
            pool = DataPool()
            pool.add(np.arange(task.n_train), task.y_train, contributor, 0)
            trainer = ShardedTrainer(S, lambda t=task: make_learner("logistic", t), rng).fit(
                pool, task.X_train, rng
            )
            acc = trainer.score(task.X_test, task.y_test)
            retrained = []
            for who in rng.choice(users, deletions, replace=False):
                before, size = trainer.samples_retrained, len(pool)
                if trainer.delete(pool, task.X_train, rng, contributors=np.array([who])):
                    retrained.append((trainer.samples_retrained - before) / size)
            rows.append({"split": i, "shards": S, "accuracy": acc,
                         "retrained_share": float(np.mean(retrained))})  # fmt: skip
    table = pd.DataFrame(rows).groupby("shards")[["accuracy", "retrained_share"]].mean()
    table["published"] = 1.0 / table.index
    rel = float(np.max(np.abs(table.retrained_share / table.published - 1)))
    falls = bool(table.accuracy.iloc[-1] < table.accuracy.iloc[0])
    fig, (ax, bx) = _figure(exp.title, 2)
    ax.plot(table.index, table.published, "ks--", label="1/S")
    ax.plot(table.index, table.retrained_share, "o-", label="obtained")
    ax.set(xscale="log", yscale="log", xlabel="shards S", ylabel="share retrained per deletion")
    ax.legend()
    bx.plot(table.index, table.accuracy, "o-")
    bx.set(xscale="log", xlabel="shards S", ylabel="held-out accuracy (vote)")
    return Result(
        exp.name, exp.title, exp.check,
        published=f"a deletion retrains ~1/S of the data (S={_fmt(shards, 0)}); accuracy "
        "falls as S grows",
        obtained=f"share retrained {_fmt(table.retrained_share)}; accuracy "
        f"{_fmt(table.accuracy)}",
        tolerance=f"|share * S - 1| <= {exp.tolerance}; accuracy at largest S below S=1",
        passed=rel <= exp.tolerance and falls, table=table.reset_index(), figure=fig,
    )  # fmt: skip


# --------------------------------------------------------------- 13. AI substitute


AI_PUBLISHED_FALL = 0.25
AI_TOLERANCE = 0.05
AI_WINDOW = 26  # weekly steps after release
AI_LEVEL_WEEKS = 26  # the fall is the mean level over the whole window after release
AI_BASELINE_WEEKS = 10  # pre-release level: the weeks before it (after a burn-in)
AI_GRID = (0.7, 0.8, 0.9, 1.0)  # the substitute's quality
AI_GRID_FAST = (0.75, 0.95)
AI_CALIBRATION_SEEDS, AI_CALIBRATION_SEEDS_FAST = 3, 2
AI_VALIDATION_SEEDS, AI_VALIDATION_SEEDS_FAST = 5, 3


def _ai_event(spec: Scenario) -> tuple[int, str, int]:
    i = next(i for i, e in enumerate(spec.events) if e.action.value == "ai_substitute")
    return i, spec.events[i].platform, spec.events[i].at


def _ai_run(spec: Scenario, quality: float, seed: int) -> dict[str, float | pd.DataFrame]:
    from abm.runner import simulate

    i, commons, at = _ai_event(spec)
    events = list(spec.events)
    events[i] = events[i].model_copy(update={"quality": quality})
    run = simulate(spec.model_copy(update={"events": events}), seed=seed)
    t = run.model_table
    control = next(p.name for p in spec.platforms if p.name != commons)
    pre = t.loc[at - AI_BASELINE_WEEKS + 1 : at]  # the weeks just before the release
    post = t.loc[at + 1 + AI_WINDOW - AI_LEVEL_WEEKS : at + AI_WINDOW]
    ratio = (post[f"new_data[{commons}]"].mean() / pre[f"new_data[{commons}]"].mean()) / (
        post[f"new_data[{control}]"].mean() / pre[f"new_data[{control}]"].mean()
    )
    gap_pre = (pre[f"quality[{control}]"] - pre[f"quality[{commons}]"]).mean()
    gap_post = (post[f"quality[{control}]"] - post[f"quality[{commons}]"]).mean()
    return {"fall": 1.0 - ratio, "gap_change": gap_post - gap_pre, "table": t,
            "commons": commons, "control": control}  # fmt: skip


def ai_substitute(path: Path, fast: bool) -> Result:
    """Calibrate the shock to the published fall on some seeds, then test on others."""
    spec = load_scenario(path)
    _, _, at = _ai_event(spec)
    if at + AI_WINDOW >= spec.steps:
        raise ValueError(f"{path}: steps: at least {at + AI_WINDOW + 1} to see {AI_WINDOW} weeks")
    n_cal = AI_CALIBRATION_SEEDS_FAST if fast else AI_CALIBRATION_SEEDS
    n_val = AI_VALIDATION_SEEDS_FAST if fast else AI_VALIDATION_SEEDS
    seeds = _seeds(spec.seed, n_cal + n_val)
    cal_seeds, val_seeds = seeds[:n_cal], seeds[n_cal:]
    # Calibration: the fall rises with the substitute's quality; interpolate on a grid.
    grid = AI_GRID_FAST if fast else AI_GRID
    falls = [float(np.mean([_ai_run(spec, s, seed)["fall"] for seed in cal_seeds])) for s in grid]
    quality = float(np.clip(np.interp(AI_PUBLISHED_FALL, falls, grid), 0.0, 1.0))
    runs = [_ai_run(spec, quality, seed) for seed in val_seeds]
    fall = float(np.mean([r["fall"] for r in runs]))
    behind = float(np.mean([r["gap_change"] for r in runs]))
    ok = abs(fall - AI_PUBLISHED_FALL) <= AI_TOLERANCE and behind > 0
    fig, (ax, bx) = _figure("Contributions to the commons fall after an AI substitute appears", 2)
    t = runs[0]["table"]
    commons, control = runs[0]["commons"], runs[0]["control"]
    for name, style in ((commons, "-"), (control, "--")):
        ax.plot(t.index, t[f"new_data[{name}]"].rolling(3, min_periods=1).mean(), style, label=name)
        bx.plot(t.index, t[f"quality[{name}]"], style, label=name)
    for a in (ax, bx):
        a.axvline(at, color="grey", lw=0.8)
        a.axvspan(at, at + AI_WINDOW, color="grey", alpha=0.08)
        a.set(xlabel="week")
        a.legend()
    ax.set(ylabel="new samples per week (3-week mean)")
    bx.set(ylabel="held-out quality")
    table = pd.DataFrame({"substitute_quality": grid, "calibration_fall": falls})
    return Result(
        "ai_substitute", "Contributions fall after an AI substitute appears", "quantitative",
        published=f"fall of ~{AI_PUBLISHED_FALL:.0%} within {AI_WINDOW} weeks vs a control; "
        "the commons' model then falls behind",
        obtained=f"calibrated substitute quality {quality:.3f}; held-out seeds: fall {fall:.1%}, "
        f"quality gap to control grew by {behind:.4f}",
        tolerance=f"fall within +-{AI_TOLERANCE:.0%} on held-out seeds; gap grows (> 0)",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


# ------------------------------------------------------------------ the registry

ANALYSES: dict[str, tuple[str, Callable[[Path, bool], Result]]] = {
    "strike_curve": ("strike_curve.yaml", strike_curve_breast_cancer),
    "cdc_curve": ("cdc_curve.yaml", cdc_curve_breast_cancer),
    "strike_vs_cdc": ("strike_vs_cdc.yaml", strike_vs_cdc),
    "normalisation": ("normalisation.yaml", raw_vs_normalised),
    "larger_is_robust": ("larger_is_robust.yaml", larger_is_robust),
    "group_strike": ("group_strike.yaml", group_strike),
    "signal_planting": ("signal_planting.yaml", signal_planting),
    "conflicting_collectives": ("conflicting_collectives.yaml", conflicting_collectives),
    "coordination_noise": ("coordination_noise.yaml", coordination_noise),
    "knn_shapley": ("knn_shapley.yaml", knn_shapley_checks),
    "tmc_vs_knn": ("tmc_vs_knn.yaml", tmc_vs_knn),
    "sisa": ("sisa.yaml", sisa_unlearning),
    "ai_substitute": ("ai_substitute.yaml", ai_substitute),
}
"""Replication name -> (file in scenarios/replications/, analysis)."""
