"""Algorithmic collective action: planting a signal, alone, noisily, against a rival.

Modelling assumption: a collective of a share alpha of the training rows adds a trigger
(rare pixels of scaled digits) and its target label; success is the share of triggered
test points of other classes that the refitted classifier labels as the target (Hardt et
al., ICML 2023). Two collectives plant the same trigger with different targets on
disjoint rows (Karan et al., FAccT 2025); the model and the planting draws share a seed
whoever acts (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm import levers
from abm.learning import (
    Task,
    make_learner,
)
from abm.replications.common import (
    Result,
    above,
    ci_text,
    digits01,
    interval,
    make_result,
    near,
    new_figure,
    spawn_seeds,
    values_text,
)
from abm.replications.spec import Experiment, load_experiment

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
    for s in spawn_seeds(exp.seed, exp.splits):
        task = digits01(s)
        for r in range(exp.replicates):
            values.append(_signal_success(task, alpha, trigger(task), target, s + 7 * r, **kw)[0])
    return np.array(values)


def _trigger(n_pixels: int, rare: bool) -> Callable[[Task], levers.Trigger]:
    return lambda task: levers.choose_trigger(task.X_train, n_pixels, rare=rare)


def signal_planting(path: Path, fast: bool, ablate: bool) -> Result:
    """Success against alpha; rare vs common trigger; feature-label vs feature-only."""
    exp = load_experiment(path).reduced(fast)
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
    ok = (low[0] < 0.2 and high[0] > 0.8 and above(interval(rare_s[exp.fractions[-1]]
          - rare_s[exp.fractions[0]])) and above(rare_vs_common, margin)
          and above(label_vs_fo, margin))  # fmt: skip
    table = pd.DataFrame({"alpha": exp.fractions,
                          "rare": [rare_s[a].mean() for a in exp.fractions],
                          "common": [common_s[a].mean() for a in exp.fractions]})  # fmt: skip
    reached = table.alpha[table.rare >= 0.5]
    critical = float(reached.iloc[0]) if len(reached) else float("nan")
    fig, (ax, bx) = new_figure(exp.title, 2)
    ax.plot(table.alpha, table.rare, "o-", label="rare trigger pixels")
    ax.plot(table.alpha, table.common, "s-", label="common trigger pixels")
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set(xscale="log", xlabel="collective size alpha", ylabel="success S(alpha)")
    ax.legend()
    bx.bar(["feature-label", "feature-only"], [label.mean(), feature_only.mean()])
    bx.set(ylabel=f"success at alpha={a_fo}, target {fo_target}")
    return make_result(
        exp, high,
        obtained=f"S={ci_text(high, 2)} at alpha={exp.fractions[-1]}, {ci_text(low, 2)} at "
        f"{exp.fractions[0]} (S>=0.5 from alpha={critical}); at {a_cmp}: rare - common "
        f"{ci_text(rare_vs_common, 2)}; feature-label - feature-only {ci_text(label_vs_fo, 2)}",
        passed=bool(ok),
        table=table.assign(feature_label=label.mean(), feature_only=feature_only.mean()),
        figure=fig,
    )  # fmt: skip


def conflicting_collectives(path: Path, fast: bool, ablate: bool) -> Result:
    """Two collectives plant the same trigger with different targets.

    Ablated, the rival never acts (one collective instead of two), so "with the rival"
    is the collective alone.
    """
    exp = load_experiment(path).reduced(fast)
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
    ok = (share >= tol and rival_share >= tol and above(loss) and above(rival_loss)
          and above(grows))  # fmt: skip
    fig, (ax,) = new_figure(exp.title)
    ax.plot(table.rival_alpha, table.alone, "k--", label=f"collective (alpha={alpha}) alone")
    ax.plot(table.rival_alpha, table.with_rival, "o-", label="with the rival acting")
    ax.plot(table.rival_alpha, table.loss_share, "s:", label="share of success lost")
    ax.axhline(exp.published["max_loss"], color="grey", lw=0.6, label="published: up to 0.75")
    ax.set(xlabel="rival collective's size", ylabel="success / loss")
    ax.legend(fontsize=8)
    return make_result(
        exp, loss,
        obtained=f"equal sizes: success lost {ci_text(loss, 2)} (share {share:.2f}), rival "
        f"{ci_text(rival_loss, 2)} (share {rival_share:.2f}); loss grows with the rival's size "
        f"by {ci_text(grows, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


def _conflict_rows(exp: Experiment, px: int, alpha: float, ablate: bool) -> list[dict]:
    """Each seed and rival size: both collectives' success alone and acting together."""
    t0, t1 = int(exp.param("target", 0)), int(exp.param("rival_target", 1))
    rows = []
    for rival_alpha in exp.fractions:
        for s in spawn_seeds(exp.seed, exp.splits):
            task = digits01(s)
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


def coordination_noise(path: Path, fast: bool, ablate: bool) -> Result:
    """Members misapply the signal with probability ``noise``."""
    exp = load_experiment(path).reduced(fast)
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    alpha = float(exp.param("alpha", 0.005))
    noises = [float(v) for v in exp.param("noise", [0.0, 0.3, 0.6, 0.9])]
    exact = _success_by_seed(exp, alpha, _trigger(px, True), target, noise=0.0)
    per = {n: exact if ablate or n == 0.0 else _success_by_seed(
        exp, alpha, _trigger(px, True), target, noise=n) for n in noises}  # fmt: skip
    drop = interval(per[noises[0]] - per[noises[-1]])
    table = pd.DataFrame({"noise": noises, "success": [per[n].mean() for n in noises]})
    ok = drop[0] >= exp.tolerance and above(drop)
    fig, (ax,) = new_figure(exp.title)
    ax.plot(table.noise, table.success, "o-")
    ax.set(xlabel="coordination noise (share misapplying)", ylabel=f"success at alpha={alpha}")
    return make_result(
        exp, drop,
        obtained=f"fall from noise {noises[0]} to {noises[-1]}: {ci_text(drop, 2)}; success "
        f"{values_text(table.success, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip


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
    for s in spawn_seeds(exp.seed, exp.splits):
        task = digits01(s)
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


def two_collectives(path: Path, fast: bool, ablate: bool) -> Result:
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
    exp = load_experiment(path).reduced(fast)
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
    ok = (above(cut[equal]) and near(published, cut[sizes[-1]], tol) and above(small_loses)
          and above(big_wins) and above(secondary))  # fmt: skip
    table = raw.groupby(["rival_alpha", "homogeneity"]).mean(numeric_only=True).drop(
        columns="seed").reset_index()  # fmt: skip
    table["cut"] = 1 - table.together / table.solo
    return make_result(
        exp, cut[equal],
        obtained=f"the second collective cuts the first's efficacy by {ci_text(cut[equal], 2)} at "
        f"equal size (the first cuts the second's by {ci_text(rival_cut, 2)}); by rival size "
        + ", ".join(f"{f} {ci_text(c, 2)}" for f, c in cut.items())
        + f"; smaller rival: first leads by {ci_text(small_loses, 2)}; larger rival: rival leads "
        f"by {ci_text(big_wins, 2)}; size effect on the cut minus homogeneity's "
        f"{ci_text(secondary, 2)}",
        passed=bool(ok), table=table, figure=_two_collectives_figure(exp, table, published),
    )  # fmt: skip


def _two_collectives_figure(exp: Experiment, table: pd.DataFrame, published: float) -> Figure:
    fig, (ax, bx) = new_figure(exp.title, 2)
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
