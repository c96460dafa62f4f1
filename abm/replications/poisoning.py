"""Data poisoning: a backdoor planted by a tiny share of rows (BadNets).

Modelling assumption: a share alpha of training rows carries a trigger and the target
label; the classifier is refitted with the same generator with and without them, so the
clean-accuracy cost is a paired difference on the clean test set (Gu et al., 2017).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from abm import levers
from abm.learning import (
    make_learner,
)
from abm.replications.common import (
    Result,
    ci_text,
    digits01,
    interval,
    make_result,
    near,
    new_figure,
    spawn_seeds,
)
from abm.replications.spec import load_experiment


def backdoor(path: Path, fast: bool, ablate: bool) -> Result:
    """A backdoor planted by a tiny share of rows: clean accuracy kept, triggered flipped.

    Per seed, the same split is fitted twice with the same generator: once clean, once
    with ``alpha`` of the training rows carrying the trigger and the target label. The
    clean-accuracy cost is the paired difference on the clean test set; success is the
    share of triggered test points of other classes labelled as the target. Ablated, no
    trigger is planted (the poisoned model is the clean one).
    """
    exp = load_experiment(path).reduced(fast)
    px, target = int(exp.param("pixels", 4)), int(exp.param("target", 0))
    alpha = 0.0 if ablate else float(exp.param("alpha", 0.01))
    rows = []
    for s in spawn_seeds(exp.seed, exp.splits):
        task = digits01(s)
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
    ok = near(0.0, cost, tol) and cost[2] <= tol and success[1] > min_success
    fig, (ax,) = new_figure(exp.title)
    ax.scatter(table.clean_cost, table.success, s=14)
    ax.axvline(tol, color="grey", lw=0.8, label="one point of clean accuracy")
    ax.set(xlabel="clean accuracy lost", ylabel="triggered inputs flipped to the target")
    ax.legend(fontsize=8)
    rate = float(exp.param("alpha", 0.01))
    return make_result(
        exp, cost,
        obtained=f"clean accuracy lost {ci_text(cost)} at {rate:.1%} poisoned "
        f"({int(table.poisoned_rows.mean())} rows); triggered flipped {ci_text(success, 2)}",
        passed=bool(ok), table=table, figure=fig,
    )  # fmt: skip
