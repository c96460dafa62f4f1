"""The stream task's data phase with and without a twin reusing its real world's rows.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/stream_data.py [n_users] [steps]

Runs ``abm bench --task stream``'s scenario (a strike with its twin world) and times the
data phase (``route_data``: counts, fresh rows, routing) of the real world and of the
twin every step. Odd steps run as before ``Task.stream_rows`` existed (the twin makes
and stores its rows again), even steps reuse the rows the real world just made; the
two variants give the same numbers, so alternating them in one run compares them under
the same load. Prints medians per variant and their ratio as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from abm.bench import bench_scenario
from abm.learning.tasks import Task
from abm.model import LeverageModel


def main() -> None:
    """Time the data phase of both worlds, alternating the two variants step by step."""
    n_users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    model = LeverageModel(scenario=bench_scenario(n_users, steps=steps, task="stream"))
    reuse = Task.stream_rows
    reuse_now = [True]

    def stream_rows(task, who, k, make):
        if not reuse_now[0]:
            task._recent = None  # as before: every world makes and stores its own rows
        return reuse(task, who, k, make)

    Task.stream_rows = stream_rows
    spent = [0.0]
    for world in [model, *model.twins]:
        route = world.route_data

        def timed(_route=route):
            t0 = time.perf_counter()
            _route()
            spent[0] += time.perf_counter() - t0

        world.route_data = timed
    times: dict[str, list[float]] = {"remake": [], "reuse": []}
    while model.running:
        reuse_now[0] = model.steps % 2 == 0
        spent[0] = 0.0
        model.step()
        times["reuse" if reuse_now[0] else "remake"].append(spent[0])
    out = {k: float(np.median(v)) for k, v in times.items()}
    out["ratio"] = out["remake"] / out["reuse"]
    out.update(n_users=n_users, steps=steps, store_rows=model.task.n_train)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
