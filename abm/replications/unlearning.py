"""Unlearning: SISA shards, the cost of a deletion and the accuracy it costs.

Modelling assumption: rows are sharded by a hash of their contributor, so each
contributor's shard is an independent uniform draw and K deletions retrain
S(1-(1-1/S)^K) shards in expectation (Bourtoule et al., IEEE S&P 2021); the shards' vote
is less accurate than one model on all rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from abm.learning import (
    DataPool,
    ShardedTrainer,
    make_learner,
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
    values_text,
)
from abm.replications.spec import load_experiment


def sisa_unlearning(path: Path, fast: bool, ablate: bool) -> Result:
    """K uniform deletions: samples retrained against S(1-(1-1/S)^K) shards; accuracy vs S.

    Rows are sharded by a hash of their contributor, so each contributor's shard is an
    independent uniform draw; deleting K distinct contributors at once retrains every
    shard they touched once. The retrained samples, divided by the mean shard size n/S,
    count shard-equivalents retrained; SISA's expectation is S(1-(1-1/S)^K). Ablated,
    every S trains one model on all rows.
    """
    exp = load_experiment(path).reduced(fast)
    shards = [int(s) for s in exp.param("shards", [1, 2, 5, 10])]
    deletions = int(exp.param("deletions", 10))
    users = int(exp.param("users", 200))
    rows = []
    for i, s in enumerate(spawn_seeds(exp.seed, exp.splits)):
        task = cached_task(exp.task, s, True, 0.25)
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
    match = all(near(S * (1 - (1 - 1 / S) ** deletions), cis[S], tol * max(1.0, S / 4))
                for S in shards)  # fmt: skip
    acc = raw.pivot(index="split", columns="shards", values="accuracy")
    falls = interval(acc[shards[0]] - acc[shards[-1]])
    table = raw.groupby("shards")[["accuracy", "shards_retrained", "expected"]].mean()
    big = shards[-1]
    fig, (ax, bx) = new_figure(exp.title, 2)
    ax.plot(table.index, table.expected, "ks--", label="S(1-(1-1/S)^K)")
    ax.plot(table.index, table.shards_retrained, "o-", label="obtained (retrained / (n/S))")
    ax.set(xscale="log", xlabel="shards S", ylabel=f"shards retrained for K={deletions}")
    ax.legend()
    bx.plot(table.index, table.accuracy, "o-")
    bx.set(xscale="log", xlabel="shards S", ylabel="held-out accuracy (vote)")
    return make_result(
        exp, cis[big],
        published=f"K={deletions} uniform deletions retrain S(1-(1-1/S)^K) shards "
        f"({values_text(table.expected, 2)} at S={values_text(shards, 0)}); accuracy falls as S "
        "grows",
        obtained=f"S={big}: {ci_text(cis[big], 2)} shards retrained; all "
        f"{values_text(table.shards_retrained, 2)}; accuracy S={shards[0]} minus S={big} "
        f"{ci_text(falls)}",
        passed=bool(match and above(falls)), table=table.reset_index(), figure=fig,
    )  # fmt: skip
