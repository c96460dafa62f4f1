"""`abm bench`'s scenario with another task: the cost of a step on a stream task.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/stream_bench.py stream 100000 [steps]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/stream_bench.py digits 100000 [steps]

Run the two one after the other on the same machine: only their ratio means anything.
"""

from __future__ import annotations

import json
import sys

from abm import bench
from abm.scenario import with_overrides


def main() -> None:
    """Time ``abm.bench.measure_model`` with ``task.name`` overridden; print one line."""
    task, n_users = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    original = bench.bench_scenario

    def scenario(n_users: int, steps: int = 100, seed: int = 0, counterfactual_every: int = 5):
        sc = original(n_users, steps=steps, seed=seed, counterfactual_every=counterfactual_every)
        return with_overrides(sc, {"task.name": task})

    bench.bench_scenario = scenario
    r = bench.measure_model(n_users, steps)
    shares = {k: round(v, 2) for k, v in r.pop("phase_share").items()}
    print(task, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}),
          shares)  # fmt: skip


if __name__ == "__main__":
    main()
