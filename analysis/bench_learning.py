"""Time one platform's retrain at 1k, 10k and 100k pooled samples.

Run: OPENBLAS_NUM_THREADS=1 python analysis/bench_learning.py
Task: synthetic, 64 features, 10 classes (the size the simulator's platforms meet).
"incremental" is LogisticRegression.update over the step's new data (here the whole pool
size, the worst case); "full refit" is LogisticRegression.fit (L-BFGS) on the whole pool.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from abm.learning import DataPool, LogisticRegression, load_task  # noqa: E402


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    task = load_task(
        "synthetic", rng=rng, n_samples=20_000, n_features=64, n_informative=32, n_classes=10
    )
    rows = []
    for n in (1_000, 10_000, 100_000):
        pool = DataPool()
        sample = rng.integers(0, task.n_train, size=n)
        pool.add(sample, task.y_train[sample], rng.integers(0, 1000, size=n), step=0)
        X, y = pool.features(task.X_train), pool.y
        warm = LogisticRegression(10, 64).fit(X[:500], y[:500])
        t_feat = timed(lambda: pool.features(task.X_train), 5)  # noqa: B023
        t_inc = timed(lambda: warm.update(X, y, rng), 5)  # noqa: B023
        t_full = timed(lambda: LogisticRegression(10, 64).fit(X, y), 3 if n < 100_000 else 1)  # noqa: B023
        rows.append((n, t_feat, t_inc, t_full))
    print(f"{'pooled':>8} {'features ms':>12} {'incremental ms':>15} {'full refit ms':>14}")
    for n, tf, ti, tr in rows:
        print(f"{n:>8} {tf * 1e3:>12.2f} {ti * 1e3:>15.2f} {tr * 1e3:>14.1f}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
