"""How much hit rate at 10 a strike by half the raters takes, over many seeds.

The setting of ``tests/test_hit_rate.py`` (120 raters x 60 ratings in a generated
``u.data`` file, 150 items, rank 3; two MF platforms, 70% / 30% of raters, no seed data,
6 ratings per user per step, 10 steps; half of the raters strike the incumbent from step
0), with the file's ``taste`` and the platforms' ``retrain`` mode as options. For each
seed: the hit rate the strike took (twin minus real, mean over the steps, and at the last
step) and, in the twin world, the incumbent's RMSE and hit rate against the item mean
fitted on the same ratings.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/hit_rate_strike.py \
        [--seeds 0-19] [--taste 1.0] [--retrain full] [--steps 10]

Prints one line per seed, then each quantity's mean and 95% interval over the seeds.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from abm.intervals import mean_ci
from abm.learning import ItemMean, hit_rate, rmse
from abm.model import LeverageModel
from abm.runner import simulate
from tests.learning.test_movielens import low_rank_ratings, write
from tests.test_hit_rate import recommender


def main() -> None:
    """Run the seeds and print the effects and the baselines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-19", help="first-last, inclusive")
    ap.add_argument("--taste", type=float, default=1.0)
    ap.add_argument("--retrain", default="full", choices=["full", "incremental"])
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    first, last = map(int, args.seeds.split("-"))
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "u.data", "u.data", low_rank_ratings(taste=args.taste), False)
        rows = []
        for seed in range(first, last + 1):
            sc = recommender(path, 0.5, seed, args.steps, args.retrain)
            result = simulate(sc)
            table = result.model_table
            row = [
                result.outcomes["hit_rate_effect[strikers]"],
                table["hit_rate_effect[strikers]"].iloc[-1],
                *_versus_item_mean(recommender(path, None, seed, args.steps, args.retrain)),
            ]
            rows.append(row)
            print(seed, np.round(row, 3).tolist(), flush=True)
    names = ["effect (mean over steps)", "effect (last step)", "MF RMSE", "item-mean RMSE",
             "MF hit rate", "item-mean hit rate"]  # fmt: skip
    for name, col in zip(names, np.array(rows).T, strict=True):
        mean, lo, hi = mean_ci(col, 0.95)
        print(f"{name}: {mean:.3f} [{lo:.3f}, {hi:.3f}] (min {col.min():.3f})")


def _versus_item_mean(scenario) -> list[float]:
    """The incumbent's MF against the item mean on the ratings it received (no strike)."""
    model = LeverageModel(scenario=scenario)
    while model.running:
        model.step()
    task, p = model.task, model.platforms[0]
    seen = ItemMean(task.n_items).fit(p.pool.features(task.X_train), p.pool.y)
    return [rmse(p.trainer, task.X_test, task.y_test), rmse(seen, task.X_test, task.y_test),
            p.hit_rate, hit_rate(seen, task.ranking)]  # fmt: skip


if __name__ == "__main__":
    main()
