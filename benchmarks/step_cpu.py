"""CPU time per step of ``abm bench``'s scenario, per phase, with and without the twin.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/step_cpu.py [n_users] [steps]

On a machine shared with other jobs wall-clock seconds per step move by 2x between
back-to-back runs; the process's own CPU time (``time.process_time``) moves far less,
so this is the number to compare two checkouts with (run it in each, alternately, with
``PYTHONPATH`` set to the checkout). Prints one JSON line per twin mode: the median CPU
milliseconds per step and per phase method of the real world and of its twin.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from abm.bench import _instrument, bench_scenario
from abm.model import LeverageModel


def measure(n_users: int, steps: int, twins: str, warmup: int = 3) -> dict:
    """Median CPU time per step over ``steps`` steps (after ``warmup``), and per phase."""
    model = LeverageModel(scenario=bench_scenario(n_users, steps + warmup, twins=twins))
    for _ in range(warmup):
        model.step()
    spent: dict[str, float] = {}
    for world, label in [(model, "real."), *((twin, "twin.") for twin in model.twins)]:
        _instrument(world, spent, label, clock=time.process_time, by_method=True)
    per_step = []
    for _ in range(steps):
        t0 = time.process_time()
        model.step()
        per_step.append(time.process_time() - t0)
    phases = {k: round(v / steps * 1e3, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    return {
        "n_users": n_users,
        "twins": twins,
        "cpu_ms_per_step": round(float(np.median(per_step)) * 1e3, 2),
        "cpu_ms_by_phase": phases,
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    for mode in ("joint", "off"):
        print(json.dumps(measure(n, steps, mode)))
