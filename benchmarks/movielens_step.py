"""Cost of a step on a MovieLens-1M-sized task, on a generated file of that size and shape.

Nothing is downloaded: the script writes a ``ratings.dat`` file (``UserID::MovieID::
Rating::Timestamp``) with MovieLens-1M's numbers (6,040 raters, 3,706 items, 1,000,209
ratings, at least 20 ratings per rater, heavy-tailed rater activity and item popularity,
low-rank tastes) to a temporary folder, then times reading it, building the model and its
steps. The scenario: every rater is a user, two platforms with incremental matrix
factorisation (the incumbent holding 70% of users), a strike by 30% of users on the
incumbent from step 0 with its twin world, leverage measured every step.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/movielens_step.py \
        [--ratings 1000209] [--steps 20] [--samples-per-step 5] [--keep PATH]

Prints a JSON object. Timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from abm.bench import PHASES, _instrument, _peak_rss_mb

ML1M = {"raters": 6040, "items": 3706, "ratings": 1_000_209}


def write_ratings_dat(path: Path, n_ratings: int, seed: int = 0) -> Path:
    """A ratings.dat of ``n_ratings`` ratings shaped like MovieLens-1M."""
    rng = np.random.default_rng(seed)
    scale = n_ratings / ML1M["ratings"]
    R = max(50, int(ML1M["raters"] * min(1.0, scale**0.5)))
    n_items = max(100, int(ML1M["items"] * min(1.0, scale**0.5)))
    # Activity: 20 each, the rest heavy-tailed (lognormal); popularity: Zipf-like.
    extra = rng.lognormal(0.0, 1.2, R)
    per = 20 + np.floor(extra / extra.sum() * (n_ratings - 20 * R)).astype(np.int64)
    per[: n_ratings - per.sum()] += 1
    per = np.minimum(per, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pop = rng.permutation(pop / pop.sum())
    rank = 8
    P, Q = rng.normal(0, 0.5, (R, rank)), rng.normal(0, 0.5, (n_items, rank))
    bu, bi = rng.normal(0, 0.3, R), rng.normal(0, 0.5, n_items)
    raters = np.repeat(np.arange(R), per)
    # Items per rater without repeats: Gumbel top-k over popularity, rater by rater in blocks.
    items = np.empty(len(raters), np.int64)
    logp = np.log(pop)
    start = 0
    for u in range(R):
        k = per[u]
        g = logp + rng.gumbel(size=n_items)
        items[start : start + k] = np.argpartition(-g, k - 1)[:k]
        start += k
    raw = (
        3.6
        + bu[raters]
        + bi[items]
        + np.sum(P[raters] * Q[items], 1)
        + rng.normal(0, 0.8, len(items))
    )
    stars = np.clip(np.round(raw), 1, 5).astype(np.int64)
    t = 956_703_932 + rng.integers(0, 90_000_000, len(items))
    order = rng.permutation(len(items))
    lines = np.char.add(
        np.char.add(np.char.add((raters[order] + 1).astype(str), "::"),
                    np.char.add((items[order] + 1).astype(str), "::")),
        np.char.add(np.char.add(stars[order].astype(str), "::"), t[order].astype(str)),
    )  # fmt: skip
    path.write_text("\n".join(lines.tolist()) + "\n")
    return path


def scenario(path: Path, n_users: int, steps: int, samples_per_step: float):
    """The timed scenario (see the module docstring)."""
    from abm.scenario import validate

    raw = {
        "name": "movielens-step",
        "seed": 0,
        "steps": steps,
        "population": {"n_users": n_users, "samples_per_step": samples_per_step},
        "network": {"kind": "watts_strogatz", "mean_degree": 8, "rewire": 0.1},
        "task": {"name": "movielens", "path": str(path), "test_size": 0.2},
        "platforms": [
            {"name": "incumbent", "learner": "mf", "initial_share": 0.7, "seed_data": 5000},
            {"name": "challenger", "learner": "mf", "initial_share": 0.3, "seed_data": 5000},
        ],
        "collectives": [
            {"name": "strikers", "target": "incumbent", "lever": "strike", "size": 0.3,
             "start": 0},
        ],
        "measurement": {"twins": "joint", "agent_table_every": 0, "valuation": False},
    }  # fmt: skip
    return validate(raw, file="<movielens-step>")


def main() -> None:
    """Write the file, time load, build and steps, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratings", type=int, default=ML1M["ratings"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--samples-per-step", type=float, default=5.0)
    ap.add_argument("--keep", type=Path, default=None, help="write the file here and keep it")
    args = ap.parse_args()

    from abm.learning import load_task, ratings_report
    from abm.model import LeverageModel

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "ratings.dat"
        t0 = time.perf_counter()
        write_ratings_dat(path, args.ratings)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        task = load_task("movielens", rng=np.random.default_rng(0), path=path, test_size=0.2)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = LeverageModel(
            scenario=scenario(path, task.n_raters, args.steps, args.samples_per_step)
        )
        t_build = time.perf_counter() - t0
        profile: dict[str, float] = {}
        _instrument(model, profile)
        for twin in model.twins:
            _instrument(twin, profile, prefix="twin:")
        times, routed = [], []
        while model.running:
            before = sum(p.received for p in model.platforms)
            t = time.perf_counter()
            model.step()
            times.append(time.perf_counter() - t)
            routed.append(sum(p.received for p in model.platforms) - before)
        total = float(np.sum(times))
        inc = model.platforms[0]
        t0 = time.perf_counter()
        report = ratings_report(
            inc.trainer, model.task, inc.pool.features(model.task.X_train), inc.pool.y
        )
        t_report = time.perf_counter() - t0
        from abm.learning import hit_rate

        t0 = time.perf_counter()
        for _ in range(10):
            hit_rate(inc.trainer, model.task.ranking)  # what evaluate adds per platform
        t_hit = (time.perf_counter() - t0) / 10
        from abm.learning import MatrixFactorisation

        t0 = time.perf_counter()
        MatrixFactorisation(task.n_raters, task.n_items).fit(
            task.X_train, task.y_train, np.random.default_rng(0)
        )
        t_als = time.perf_counter() - t0
    out = {
        "ratings": args.ratings,
        "raters": task.n_raters,
        "items": task.n_items,
        "train_ratings": task.n_train,
        "write_s": t_write,
        "load_s": t_load,
        "build_s": t_build,
        "steps": len(times),
        "s_per_step_median": float(np.median(times)),
        "s_per_step_max": float(np.max(times)),
        "ratings_routed_per_step": float(np.median(routed)),
        "phase_share": {k: profile.get(k, 0.0) / total for k in PHASES},
        "twins_share": sum(profile.get("twin:" + k, 0.0) for k in PHASES) / total,
        "hit_rate_s_per_platform_step": t_hit,
        "incumbent_pool": len(inc.pool),
        "rmse_hit_rate_report_s": t_report,
        "full_als_fit_s": t_als,
        "report": report,
        "peak_rss_mb": _peak_rss_mb(),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
